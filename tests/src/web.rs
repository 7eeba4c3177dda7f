//! Helpers for the web suites: raw requests that show status, headers and body bytes (no
//! redirects followed), with bearer or cookie identity and an optional `Origin`; and login.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// How a request proves who it is.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    /// The session cookie's value (sent under both names, `__Host-paliadin_session` and the
    /// loopback `paliadin_session`: the API reads the one its `cookie_secure` names).
    Cookie(String),
}

/// A raw response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value the session cookie (either name) is set to, if the response sets it.
    pub fn session_value(&self) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let first = c.split(';').next()?.trim();
            first
                .strip_prefix("__Host-paliadin_session=")
                .or_else(|| first.strip_prefix("paliadin_session="))
                .map(str::to_owned)
        })
    }
}

/// A body to send.
pub enum Body {
    Empty,
    Json(Value),
    Form(Vec<(String, String)>),
}

/// A client that follows no redirects and keeps no cookies (tests pass them explicitly).
pub struct Web {
    pub base: String,
    http: reqwest::Client,
}

impl Web {
    pub fn new(base: &str) -> Web {
        Web {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// The underlying client (no redirects followed, no cookies kept).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Our own origin, as a browser sends it.
    pub fn origin(&self) -> String {
        self.base.clone()
    }

    /// Sends one request. Event streams are not read (their status and headers are enough).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        auth: &Auth,
        origin: Option<&str>,
        body: Body,
    ) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        rb = match auth {
            Auth::None => rb,
            Auth::Bearer(t) => rb.bearer_auth(t),
            Auth::Cookie(c) => rb.header(
                "cookie",
                format!("__Host-paliadin_session={c}; paliadin_session={c}"),
            ),
        };
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        rb = match body {
            Body::Empty => rb,
            Body::Json(v) => rb.json(&v),
            Body::Form(f) => rb.form(&f),
        };
        let r = rb.send().await.expect("send");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let streaming = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let body = if streaming {
            Vec::new()
        } else {
            r.bytes().await.expect("body").to_vec()
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.send("GET", path, auth, None, Body::Empty).await
    }

    /// `POST /login` with a form, as the page's form does (with our Origin).
    pub async fn login_form(&self, token: &str) -> Resp {
        let form = vec![("token".to_owned(), token.to_owned())];
        let origin = self.origin();
        self.send(
            "POST",
            "/login",
            &Auth::None,
            Some(&origin),
            Body::Form(form),
        )
        .await
    }

    /// Logs in with `token` and returns the session cookie's value, asserting success.
    pub async fn login(&self, token: &str) -> String {
        let r = self.login_form(token).await;
        assert_eq!(r.status, 303, "login: {}", r.text());
        r.session_value().expect("login sets the session cookie")
    }
}

/// Who is asking, in the authorization suites.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Who {
    Anonymous,
    /// An owner disabled after logging in (session row kept: the lookup itself must refuse).
    Disabled,
    Admin,
    OtherOwner,
    Owner,
}

pub const EVERYONE: [Who; 5] = [
    Who::Anonymous,
    Who::Disabled,
    Who::Admin,
    Who::OtherOwner,
    Who::Owner,
];

/// A token and a session cookie of one user.
pub struct Creds {
    pub token: String,
    pub cookie: String,
}

/// One user per [`Who`], each logged in through `POST /login`, and the unrouted 404 to compare.
pub struct Cast {
    pub web: Web,
    pub owner: Creds,
    pub other: Creds,
    pub admin: Creds,
    pub disabled: Creds,
    /// `GET /no/such/route`: what every refusal must look like.
    pub unrouted: Resp,
}

impl Cast {
    pub async fn new(db: &crate::db::TestDb, base: &str) -> Cast {
        use paliadin_shared::db::users::Role;
        let web = Web::new(base);
        let mut creds = Vec::new();
        for (email, role) in [
            ("owner@x", Role::Owner),
            ("other@x", Role::Owner),
            ("admin@x", Role::Admin),
            ("disabled@x", Role::Owner),
        ] {
            let (_, token) = crate::http::user(db, email, role).await;
            let cookie = web.login(&token).await;
            creds.push(Creds { token, cookie });
        }
        sqlx::query("UPDATE users SET disabled = true WHERE email = 'disabled@x'")
            .execute(&db.pool)
            .await
            .expect("disable");
        let unrouted = web.get("/no/such/route", &Auth::None).await;
        assert_eq!(unrouted.status, 404);
        let mut it = creds.into_iter();
        let mut next = || it.next().expect("creds");
        Cast {
            owner: next(),
            other: next(),
            admin: next(),
            disabled: next(),
            unrouted,
            web,
        }
    }

    /// `who`'s credentials as a bearer token or a session cookie (bogus ones for anonymous).
    pub fn auth(&self, who: Who, cookie: bool) -> Auth {
        let c = match who {
            Who::Anonymous if cookie => return Auth::Cookie("pal_not_a_session".into()),
            Who::Anonymous => return Auth::Bearer("pal_not_a_token".into()),
            Who::Disabled => &self.disabled,
            Who::Admin => &self.admin,
            Who::OtherOwner => &self.other,
            Who::Owner => &self.owner,
        };
        if cookie {
            Auth::Cookie(c.cookie.clone())
        } else {
            Auth::Bearer(c.token.clone())
        }
    }

    /// Asserts `r` is exactly the 404 of an unrouted path, and sets no cookie.
    pub fn assert_plain_404(&self, r: &Resp, what: &str) {
        assert_eq!(r.status, 404, "{what}: {}", r.text());
        assert_eq!(
            r.header("content-type"),
            self.unrouted.header("content-type"),
            "{what}"
        );
        assert_eq!(
            r.body, self.unrouted.body,
            "{what}: body differs from unrouted"
        );
        assert!(r.set_cookies().is_empty(), "{what}: a 404 sets no cookie");
    }
}
