//! The HTTP routes of the service and how a request's method and path select one.

use crate::api::API_BASE;

/// Every route as (method, path template), exactly as the OpenAPI document lists them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/api/v6/call/webhook/openapi.json"),
    ("POST", "/api/v6/call/webhook/subscribe"),
    ("GET", "/api/v6/call/webhook/subscriptions"),
    ("GET", "/api/v6/call/webhook/subscriptions/{id}"),
    ("PATCH", "/api/v6/call/webhook/subscriptions/{id}"),
    ("DELETE", "/api/v6/call/webhook/subscriptions/{id}"),
    (
        "POST",
        "/api/v6/call/webhook/subscriptions/{id}/rotate-secret",
    ),
];

/// A selected route, with the subscription id where the path has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Health,
    /// `GET …/openapi.json`.
    OpenApi,
    /// `OPTIONS` anything: a CORS preflight.
    Preflight,
    /// `POST …/subscribe`.
    Subscribe,
    /// `GET …/subscriptions`.
    List,
    /// `GET …/subscriptions/{id}`.
    Get(String),
    /// `PATCH …/subscriptions/{id}`.
    Update(String),
    /// `DELETE …/subscriptions/{id}`.
    Delete(String),
    /// `POST …/subscriptions/{id}/rotate-secret`.
    RotateSecret(String),
}

impl Route {
    /// Whether the route needs a signed-in user.
    pub fn needs_user(&self) -> bool {
        !matches!(self, Self::Health | Self::OpenApi | Self::Preflight)
    }
}

/// No route for the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No route has this path.
    NotFound,
    /// The path exists, with other methods (listed for the `Allow` header).
    MethodNotAllowed(Vec<&'static str>),
}

/// Selects the route for `method` and `path` (a trailing slash is ignored).
pub fn route(method: &str, path: &str) -> Result<Route, RouteError> {
    if method.eq_ignore_ascii_case("OPTIONS") {
        return Ok(Route::Preflight);
    }
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let mut allowed = Vec::new();
    for (route_method, template) in ROUTES {
        let Some(id) = match_template(template, path) else {
            continue;
        };
        if !route_method.eq_ignore_ascii_case(method) {
            allowed.push(*route_method);
            continue;
        }
        let id = id.unwrap_or_default().to_owned();
        let tail = template.strip_prefix(API_BASE).unwrap_or(template);
        return Ok(match (*route_method, tail) {
            ("GET", "/healthz") => Route::Health,
            ("GET", "/openapi.json") => Route::OpenApi,
            ("POST", "/subscribe") => Route::Subscribe,
            ("GET", "/subscriptions") => Route::List,
            ("GET", _) => Route::Get(id),
            ("PATCH", _) => Route::Update(id),
            ("DELETE", _) => Route::Delete(id),
            _ => Route::RotateSecret(id),
        });
    }
    if allowed.is_empty() {
        Err(RouteError::NotFound)
    } else {
        Err(RouteError::MethodNotAllowed(allowed))
    }
}

/// `Some(id)` when `path` fits `template` (`Some(None)` for a template without `{id}`).
fn match_template<'p>(template: &str, path: &'p str) -> Option<Option<&'p str>> {
    let mut id = None;
    let mut template_parts = template.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (template_parts.next(), path_parts.next()) {
            (None, None) => return Some(id),
            (Some("{id}"), Some(part)) if !part.is_empty() => id = Some(part),
            (Some(t), Some(p)) if t == p => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_is_reachable() {
        for (method, template) in ROUTES {
            let path = template.replace("{id}", "sub_1");
            assert!(route(method, &path).is_ok(), "{method} {path}");
        }
    }

    #[test]
    fn paths_select_routes() {
        let base = API_BASE;
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(
            route("POST", &format!("{base}/subscribe/")),
            Ok(Route::Subscribe)
        );
        assert_eq!(
            route("GET", &format!("{base}/subscriptions/sub_9")),
            Ok(Route::Get("sub_9".into()))
        );
        assert_eq!(
            route("PATCH", &format!("{base}/subscriptions/sub_9")),
            Ok(Route::Update("sub_9".into()))
        );
        assert_eq!(
            route("POST", &format!("{base}/subscriptions/sub_9/rotate-secret")),
            Ok(Route::RotateSecret("sub_9".into()))
        );
        assert_eq!(route("OPTIONS", "/anything"), Ok(Route::Preflight));
        assert_eq!(
            route("GET", &format!("{base}/nope")),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            route("GET", &format!("{base}/subscriptions//rotate-secret")),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            route("PUT", &format!("{base}/subscriptions/sub_9")),
            Err(RouteError::MethodNotAllowed(vec!["GET", "PATCH", "DELETE"]))
        );
        assert_eq!(
            route("GET", &format!("{base}/subscribe")),
            Err(RouteError::MethodNotAllowed(vec!["POST"]))
        );
    }
}
