//! The origin examples of docs/origin.md (`deploy/demo/origin/verify.mjs` with `jose`,
//! `verify.py` with PyJWT) verify a live `X-Customer-Token` from a real sign-in
//! against the running gateway's `/_sso/jwks.json`, and refuse the same token
//! tampered with, another site's audience, and the gateway's API token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sso_tests::{echo_of, repo_root, GatewayConfig, Idp, Shopper, Storefront, CLIENT_ID, CLIENT_SECRET};
use std::process::Command;

struct Live {
    _origin: Storefront,
    _idp: Idp,
    gateway: sso_tests::Gateway,
    shopper: Shopper,
}

impl Live {
    /// A signed-in shopper on site `shop`, which also answers on 127.0.0.1 (the
    /// examples fetch the keys there: this machine's resolver has no `*.localhost`).
    async fn start() -> Live {
        let origin = Storefront::start().expect("origin");
        let config = GatewayConfig::default();
        let port = config.port;
        let idp = Idp::start(
            &[format!("http://shop.localhost:{port}/login/sso/callback")],
            &[format!("http://shop.localhost:{port}/")],
        )
        .expect("idp");
        let gateway = config
            .site(&format!(
                "name = \"shop\"\nhosts = [\"shop.localhost\", \"127.0.0.1\"]\nupstreams = [\"{}\"]\n\
                 public_url = \"http://shop.localhost:{{port}}\"\n\
                 [sites.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
                 [[sites.routes]]\nprefix = \"/account\"\naccess = \"login\"\n",
                origin.addr(),
                idp.issuer()
            ))
            .start()
            .expect("gateway");
        gateway.ready().await.expect("ready");
        let shopper = Shopper::new(&["shop"]).expect("client");
        Live {
            _origin: origin,
            _idp: idp,
            gateway,
            shopper,
        }
    }

    /// The `X-Customer-Token` the origin got for the signed-in shopper.
    async fn customer_token(&self, login: &str) -> String {
        let start = self
            .shopper
            .page(&self.gateway.site_url("shop", "/account"))
            .await
            .expect("page");
        let landing = self.shopper.walk(start, login).await.expect("sign in");
        assert_eq!(landing.status, 200, "{}", self.gateway.log());
        let echo = echo_of(&landing.body).expect("echo");
        echo["headers"]["x-customer-token"]
            .as_str()
            .expect("X-Customer-Token")
            .to_string()
    }

    /// Runs one example (`node verify.mjs` or `python3 verify.py`) on `token` with
    /// audience `audience`: (accepted, stdout, stderr).
    fn verify(&self, program: &str, script: &str, token: &str, audience: &str) -> (bool, String, String) {
        let out = Command::new(program)
            .arg(repo_root().join("deploy/demo/origin").join(script))
            .arg(token)
            .env("SSO_ISSUER", format!("http://shop.localhost:{}", self.gateway.port))
            .env("SSO_AUDIENCE", audience)
            .env("SSO_JWKS_URL", self.gateway.url("/_sso/jwks.json"))
            .output()
            .expect("the example runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// The token with its payload changed (`sub` → another customer), signature kept.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("payload");
    let mut claims: serde_json::Value = serde_json::from_slice(&payload).expect("claims");
    claims["sub"] = serde_json::Value::String("mallory".into());
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
    format!("{}.{forged}.{}", parts[0], parts[2])
}

const EXAMPLES: [(&str, &str); 2] = [("node", "verify.mjs"), ("python3", "verify.py")];

#[tokio::test]
async fn both_examples_verify_a_live_token_and_refuse_tampered_ones() {
    let live = Live::start().await;
    let token = live.customer_token("olga~wholesale").await;
    let api_token: String = {
        let answer: serde_json::Value = live
            .shopper
            .api(&live.gateway.site_url("shop", "/_sso/token"))
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        answer["access_token"].as_str().expect("access_token").to_string()
    };
    for (program, script) in EXAMPLES {
        let (ok, stdout, stderr) = live.verify(program, script, &token, "shop");
        assert!(ok, "{script} refused a live token: {stderr}");
        let claims: serde_json::Value = serde_json::from_str(stdout.trim()).expect("claims as JSON");
        assert_eq!(claims["sub"], "olga~wholesale", "{script}: {claims}");
        assert_eq!(claims["aud"], "shop", "{script}: {claims}");
        assert_eq!(claims["email"], "olga@example.com", "{script}: {claims}");

        let (ok, _, stderr) = live.verify(program, script, &tampered(&token), "shop");
        assert!(!ok, "{script} accepted a tampered token");
        assert!(stderr.contains("refused"), "{script}: {stderr}");

        let (ok, _, stderr) = live.verify(program, script, &token, "outlet");
        assert!(!ok, "{script} accepted another site's token: {stderr}");

        let (ok, _, stderr) = live.verify(program, script, &api_token, "shop");
        assert!(
            !ok,
            "{script} accepted the gateway's API token as a customer token: {stderr}"
        );
    }
}

#[test]
fn the_guide_quotes_the_examples_verbatim() {
    let guide = std::fs::read_to_string(repo_root().join("docs/origin.md")).expect("docs/origin.md");
    for (_, script) in EXAMPLES {
        let text = std::fs::read_to_string(repo_root().join("deploy/demo/origin").join(script)).expect("example");
        assert!(
            guide.contains(&text),
            "docs/origin.md does not quote deploy/demo/origin/{script} verbatim"
        );
    }
}
