use crate::model::TokenEndpointAuthMethod;

fn parse(oidc_extra: &str, secret: Option<&str>) -> Result<crate::Config, crate::ConfigErrors> {
    let secret = secret.map(|s| format!("client_secret = \"{s}\"\n")).unwrap_or_default();
    let text = format!(
        "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
         [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:3000\"]\n\
         public_url = \"http://shop.localhost:8080\"\n\
         [sites.oidc]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n{secret}{oidc_extra}\n"
    );
    crate::parse(&text, &|_| None)
}

fn errors(oidc_extra: &str, secret: Option<&str>) -> String {
    match parse(oidc_extra, secret) {
        Ok(_) => panic!("accepted:\n{oidc_extra}"),
        Err(e) => e.to_string(),
    }
}

fn oidc(oidc_extra: &str, secret: Option<&str>) -> crate::OidcConfig {
    let config = parse(oidc_extra, secret).unwrap_or_else(|e| panic!("refused: {e}"));
    config.sites[0].oidc.clone().expect("oidc")
}

#[test]
fn defaults_change_nothing() {
    let o = oidc("", Some("s"));
    assert_eq!(o.token_endpoint_auth_method, None);
    assert_eq!(o.client_secret.expose(), "s");
    assert!(o.client_assertion_key_file.is_none() && o.ca_file.is_none() && o.client_cert_file.is_none());
    assert!(!o.pushed_authorization);
    assert!(o.id_token_signed_response_alg.is_none());
}

#[test]
fn every_method_and_its_credentials() {
    let o = oidc("token_endpoint_auth_method = \"client_secret_post\"", Some("s"));
    assert_eq!(
        o.token_endpoint_auth_method,
        Some(TokenEndpointAuthMethod::ClientSecretPost)
    );
    let o = oidc("token_endpoint_auth_method = \"client_secret_basic\"", Some("s"));
    assert_eq!(
        o.token_endpoint_auth_method,
        Some(TokenEndpointAuthMethod::ClientSecretBasic)
    );
    let o = oidc(
        "token_endpoint_auth_method = \"private_key_jwt\"\nclient_assertion_key_file = \"/etc/sso/client.pem\"",
        None,
    );
    assert_eq!(
        o.token_endpoint_auth_method,
        Some(TokenEndpointAuthMethod::PrivateKeyJwt)
    );
    assert_eq!(
        o.client_assertion_key_file.as_deref(),
        Some(std::path::Path::new("/etc/sso/client.pem"))
    );
    assert_eq!(o.client_secret.expose(), "", "no secret needed");
}

#[test]
fn unknown_method_is_refused() {
    let e = errors("token_endpoint_auth_method = \"client_secret_jwt\"", Some("s"));
    assert!(
        e.contains("sites[0].oidc.token_endpoint_auth_method: \"client_secret_jwt\" is not one of"),
        "{e}"
    );
}

#[test]
fn secret_methods_need_a_secret() {
    for method in ["", "token_endpoint_auth_method = \"client_secret_post\""] {
        let e = errors(method, None);
        assert!(e.contains("sites[0].oidc.client_secret: is required"), "{e}");
        let e = errors(method, Some(""));
        assert!(e.contains("sites[0].oidc.client_secret: is required"), "{e}");
    }
}

#[test]
fn private_key_jwt_needs_a_key_and_no_secret() {
    let e = errors("token_endpoint_auth_method = \"private_key_jwt\"", None);
    assert!(
        e.contains("sites[0].oidc.client_assertion_key_file: is required"),
        "{e}"
    );
    let e = errors(
        "token_endpoint_auth_method = \"private_key_jwt\"\nclient_assertion_key_file = \"/k.pem\"",
        Some("s"),
    );
    assert!(e.contains("sites[0].oidc.client_secret: is not used with"), "{e}");
    let e = errors(
        "token_endpoint_auth_method = \"private_key_jwt\"\nclient_assertion_key_file = \"\"",
        None,
    );
    assert!(
        e.contains("sites[0].oidc.client_assertion_key_file: must be a file path"),
        "{e}"
    );
}

#[test]
fn a_key_file_for_a_secret_method_is_refused() {
    for method in ["", "token_endpoint_auth_method = \"client_secret_basic\"\n"] {
        let e = errors(&format!("{method}client_assertion_key_file = \"/k.pem\""), Some("s"));
        assert!(
            e.contains("sites[0].oidc.client_assertion_key_file: is used only with token_endpoint_auth_method = \"private_key_jwt\""),
            "{e}"
        );
    }
}

#[test]
fn tls_files() {
    let o = oidc(
        "ca_file = \"/ca.pem\"\nclient_cert_file = \"/c.pem\"\nclient_key_file = \"/k.pem\"",
        Some("s"),
    );
    assert_eq!(o.ca_file.as_deref(), Some(std::path::Path::new("/ca.pem")));
    assert!(o.client_cert_file.is_some() && o.client_key_file.is_some());
    let e = errors("client_cert_file = \"/c.pem\"", Some("s"));
    assert!(
        e.contains("sites[0].oidc.client_key_file: is required: mutual TLS takes both"),
        "{e}"
    );
    let e = errors("client_key_file = \"/k.pem\"", Some("s"));
    assert!(
        e.contains("sites[0].oidc.client_cert_file: is required: mutual TLS takes both"),
        "{e}"
    );
    let e = errors("ca_file = \" \"", Some("s"));
    assert!(e.contains("sites[0].oidc.ca_file: must be a file path"), "{e}");
}

#[test]
fn id_token_alg_is_asymmetric() {
    let o = oidc("id_token_signed_response_alg = \"ES256\"", Some("s"));
    assert_eq!(o.id_token_signed_response_alg.as_deref(), Some("ES256"));
    for bad in ["HS256", "none", "es256", ""] {
        let e = errors(&format!("id_token_signed_response_alg = \"{bad}\""), Some("s"));
        assert!(e.contains("sites[0].oidc.id_token_signed_response_alg"), "{bad}: {e}");
    }
}

#[test]
fn pushed_authorization_is_a_bool() {
    assert!(oidc("pushed_authorization = true", Some("s")).pushed_authorization);
    let e = errors("pushed_authorization = \"yes\"", Some("s"));
    assert!(
        e.contains("sites[0].oidc.pushed_authorization: expected true or false, without quotes, found a string"),
        "{e}"
    );
}

#[test]
fn several_idps_take_the_same_keys() {
    let text = "[sessions]\ncookie_secret = \"0123456789abcdef0123456789abcdef\"\n\
         [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:3000\"]\n\
         public_url = \"http://shop.localhost:8080\"\n\
         [[sites.idps]]\nname = \"acme\"\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n\
         token_endpoint_auth_method = \"private_key_jwt\"\nclient_assertion_key_file = \"/k.pem\"\n\
         ca_file = \"/ca.pem\"\npushed_authorization = true\nid_token_signed_response_alg = \"RS256\"\n\
         [[sites.idps]]\nname = \"globex\"\nissuer = \"https://idp2.example\"\nclient_id = \"c\"\n\
         token_endpoint_auth_method = \"private_key_jwt\"\n";
    let e = match crate::parse(text, &|_| None) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("sites[0].idps[1].client_assertion_key_file: is required"),
        "{e}"
    );
    assert!(!e.contains("sites[0].idps[0]"), "{e}");
}
