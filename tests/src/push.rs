//! A loopback Web Push service for the notification suites, and the browser's side of a
//! subscription. [`PushService`] is an axum server on `127.0.0.1:0` that takes the API's POSTs
//! (answering each endpoint with the status the test chose) and hands them to the test;
//! [`BrowserKeys`] is what a browser keeps for a subscription (a P-256 key pair and an auth
//! secret), and decrypts a received payload (RFC 8291 `aes128gcm`) as the browser would;
//! [`verify_vapid`] checks the `Authorization` header (RFC 8292) against the server's key.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// One POST the push service received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The endpoint's last path segment (`/push/<name>`).
    pub name: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Clone)]
struct Shared {
    statuses: Arc<Mutex<HashMap<String, u16>>>,
    tx: mpsc::UnboundedSender<Received>,
}

pub struct PushService {
    /// `http://127.0.0.1:<port>`: the `aud` VAPID tokens must carry.
    pub origin: String,
    statuses: Arc<Mutex<HashMap<String, u16>>>,
    rx: mpsc::UnboundedReceiver<Received>,
}

impl PushService {
    pub async fn start() -> PushService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = mpsc::unbounded_channel();
        let statuses = Arc::new(Mutex::new(HashMap::new()));
        let app = Router::new()
            .route("/push/{name}", post(receive))
            .with_state(Shared {
                statuses: statuses.clone(),
                tx,
            });
        tokio::spawn(async move { axum::serve(listener, app).await });
        PushService {
            origin,
            statuses,
            rx,
        }
    }

    /// The endpoint URL of subscription `name`.
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/push/{name}", self.origin)
    }

    /// What the service answers for `name` from now on (201 until set).
    pub fn answer(&self, name: &str, status: u16) {
        self.statuses
            .lock()
            .unwrap()
            .insert(name.to_owned(), status);
    }

    /// The next push received, within `secs`.
    pub async fn next(&mut self, secs: u64) -> Received {
        tokio::time::timeout(Duration::from_secs(secs), self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no push arrived within {secs} s"))
            .expect("push service stopped")
    }

    /// Pushes received so far and not taken yet.
    pub fn drain(&mut self) -> Vec<Received> {
        std::iter::from_fn(|| self.rx.try_recv().ok()).collect()
    }
}

async fn receive(
    State(s): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let status = s
        .statuses
        .lock()
        .unwrap()
        .get(&name)
        .copied()
        .unwrap_or(201);
    let _ = s.tx.send(Received {
        name,
        headers,
        body: body.to_vec(),
    });
    StatusCode::from_u16(status).expect("status")
}

/// What a browser keeps for one push subscription.
pub struct BrowserKeys {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Default for BrowserKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl BrowserKeys {
    pub fn new() -> BrowserKeys {
        let mut rng = rand::rng();
        let secret = loop {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            if let Ok(k) = p256::SecretKey::from_slice(&b) {
                break k;
            }
        };
        let mut auth = [0u8; 16];
        rng.fill_bytes(&mut auth);
        BrowserKeys { secret, auth }
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    pub fn subscription(&self, endpoint: &str) -> Value {
        let public = self.secret.public_key().to_encoded_point(false);
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": { "p256dh": B64.encode(public.as_bytes()), "auth": B64.encode(self.auth) },
        })
    }

    /// Decrypts a received body and parses the JSON payload.
    pub fn open(&self, body: &[u8]) -> Value {
        let plain = web_push_native::decrypt(
            body.to_vec(),
            &self.secret,
            &web_push_native::Auth::from(self.auth),
        )
        .expect("the payload decrypts with the subscription's keys");
        serde_json::from_slice(&plain).expect("payload is JSON")
    }

    /// True when this subscription's keys cannot decrypt `body`.
    pub fn cannot_open(&self, body: &[u8]) -> bool {
        web_push_native::decrypt(
            body.to_vec(),
            &self.secret,
            &web_push_native::Auth::from(self.auth),
        )
        .is_err()
    }
}

/// Checks `Authorization: vapid t=<jwt>, k=<key>`: `k` is the server's public key, the ES256
/// signature verifies with it, `aud` is `origin`, `exp` is in the future (and within 24 h);
/// returns the claims.
pub fn verify_vapid(authorization: &str, server_key: &str, origin: &str) -> Value {
    let rest = authorization
        .strip_prefix("vapid t=")
        .unwrap_or_else(|| panic!("not a vapid header: {authorization}"));
    let (token, k) = rest.split_once(", k=").expect("t=…, k=…");
    assert_eq!(k, server_key, "k= is the server's VAPID public key");
    let key = VerifyingKey::from_sec1_bytes(&B64.decode(k).expect("k base64url")).expect("key");
    let (input, sig) = token.rsplit_once('.').expect("jwt");
    let sig = Signature::from_slice(&B64.decode(sig).expect("sig b64")).expect("sig");
    key.verify(input.as_bytes(), &sig)
        .expect("the VAPID signature verifies with the server's public key");
    let mut parts = input.split('.');
    let header: Value =
        serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).expect("header");
    assert_eq!(header["alg"], "ES256");
    let claims: Value =
        serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).expect("claims");
    assert_eq!(claims["aud"], origin, "aud is the endpoint's origin");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().expect("exp");
    assert!(
        exp > now && exp <= now + 24 * 3600,
        "exp {exp} vs now {now}"
    );
    assert!(
        claims["sub"]
            .as_str()
            .is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https:")),
        "{claims}"
    );
    claims
}
