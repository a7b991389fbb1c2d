//! Everything the gateway needs for one site, built once at start-up.

use crate::upstreams::UpstreamPool;
use sso_config::{ServerConfig, SiteConfig};
use sso_filters::identity_headers::IdentityHeaderStrip;
use sso_filters::route_access::RouteTable;
use std::sync::Arc;

pub struct Site {
    pub config: SiteConfig,
    pub strip: IdentityHeaderStrip,
    pub routes: RouteTable,
    pub upstreams: Arc<UpstreamPool>,
}

impl Site {
    pub fn from_config(config: &SiteConfig, server: &ServerConfig) -> Result<Self, String> {
        Ok(Site {
            strip: IdentityHeaderStrip::from_config(&config.identity_headers),
            routes: RouteTable::from_config(&config.routes),
            upstreams: UpstreamPool::from_config(&config.upstreams, server)?,
            config: config.clone(),
        })
    }
}
