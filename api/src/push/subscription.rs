//! A browser's `PushSubscription` as the page posts it (`subscription.toJSON()`), parsed once:
//! an `https` endpoint (plain `http` only to a loopback address, and only when the operator
//! allows it, for tests), at most 2048 characters; `keys.p256dh` the base64url of a 65-byte
//! uncompressed P-256 point on the curve; `keys.auth` the base64url of 16 bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Deserialize;
use std::net::IpAddr;

/// Longest endpoint URL accepted (real ones are a few hundred characters).
pub const MAX_ENDPOINT: usize = 2048;

/// The body of `POST /api/paliadin/push/subscriptions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionBody {
    /// The push service URL the browser was given.
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    /// Sent by browsers (`null` or a time in ms); not used.
    #[serde(default, rename = "expirationTime")]
    #[schema(value_type = Option<f64>)]
    pub expiration_time: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, base64url (65 bytes uncompressed).
    pub p256dh: String,
    /// The browser's authentication secret, base64url (16 bytes).
    pub auth: String,
}

/// A validated subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

/// Why a body was refused (the message of a 400 `invalid_subscription`).
pub type Invalid = String;

impl Subscription {
    pub fn parse(body: &SubscriptionBody, allow_loopback_http: bool) -> Result<Self, Invalid> {
        Ok(Subscription {
            endpoint: endpoint(&body.endpoint, allow_loopback_http)?,
            p256dh: p256dh(&body.keys.p256dh)?,
            auth: auth(&body.keys.auth)?,
        })
    }
}

fn endpoint(raw: &str, allow_loopback_http: bool) -> Result<String, Invalid> {
    if raw.len() > MAX_ENDPOINT {
        return Err(format!("endpoint is longer than {MAX_ENDPOINT} characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("endpoint is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or("");
    if host.is_empty() || !url.username().is_empty() || url.password().is_some() {
        return Err("endpoint must be an https URL with a host and no user name".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback_http && loopback(host) => {}
        _ => return Err("endpoint must be an https URL".into()),
    }
    if url.fragment().is_some() {
        return Err("endpoint must not have a #fragment".into());
    }
    Ok(url.to_string())
}

fn loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Base64url, with or without `=` padding (browsers send it without).
fn decode(what: &str, raw: &str, len: usize) -> Result<Vec<u8>, Invalid> {
    let bad = || format!("keys.{what} must be base64url of {len} bytes");
    if raw.len() > 128 {
        return Err(bad());
    }
    let bytes = B64.decode(raw.trim_end_matches('=')).map_err(|_| bad())?;
    if bytes.len() != len {
        return Err(bad());
    }
    Ok(bytes)
}

fn p256dh(raw: &str) -> Result<Vec<u8>, Invalid> {
    let bytes = decode("p256dh", raw, 65)?;
    if bytes[0] != 4 || p256::PublicKey::from_sec1_bytes(&bytes).is_err() {
        return Err(
            "keys.p256dh must be an uncompressed P-256 public key (65 bytes, 0x04…)".into(),
        );
    }
    Ok(bytes)
}

fn auth(raw: &str) -> Result<Vec<u8>, Invalid> {
    decode("auth", raw, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(endpoint: &str, p256dh: &str, auth: &str) -> SubscriptionBody {
        SubscriptionBody {
            endpoint: endpoint.into(),
            keys: SubscriptionKeys {
                p256dh: p256dh.into(),
                auth: auth.into(),
            },
            expiration_time: None,
        }
    }

    const KEY: &str =
        "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
    const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";

    #[test]
    fn endpoints() {
        let ok = |e: &str, lo| Subscription::parse(&body(e, KEY, AUTH), lo).is_ok();
        assert!(ok("https://push.example.org/wpush/v2/abc", false));
        assert!(!ok("http://push.example.org/x", true));
        assert!(!ok("http://127.0.0.1:9/x", false));
        assert!(ok("http://127.0.0.1:9/x", true));
        assert!(ok("http://[::1]:9/x", true));
        assert!(!ok("ftp://push.example.org/x", false));
        assert!(!ok("https://user@push.example.org/x", false));
        assert!(!ok(&format!("https://e.org/{}", "a".repeat(2048)), false));
        assert!(!ok("not a url", false));
    }

    #[test]
    fn keys() {
        let ok = |k: &str, a: &str| Subscription::parse(&body("https://e.org/x", k, a), false);
        assert_eq!(ok(KEY, AUTH).unwrap().p256dh.len(), 65);
        assert_eq!(
            ok(&format!("{KEY}="), &format!("{AUTH}=="))
                .unwrap()
                .auth
                .len(),
            16
        );
        assert!(ok(&KEY[..40], AUTH).is_err());
        assert!(ok(KEY, "AAAA").is_err());
        assert!(ok("!!!!", AUTH).is_err());
        // 65 bytes, but not a point on the curve.
        assert!(ok(&B64.encode([4u8; 65]), AUTH).is_err());
    }
}
