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
    ("POST", "/api/v6/call/webhook/subscriptions/{id}/rotate-secret"),
    ("GET", "/api/v6/call/webhook/subscriptions/{id}/deliveries"),
    (
        "POST",
        "/api/v6/call/webhook/subscriptions/{id}/deliveries/{event_id}/redeliver",
    ),
    ("POST", "/api/v6/call/webhook/test"),
    ("POST", "/api/v6/call/events"),
];

/// A selected route, with the subscription id where the path has one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// `GET …/subscriptions/{id}/deliveries`: the delivery log.
    Deliveries(String),
    /// `POST …/subscriptions/{id}/deliveries/{event_id}/redeliver`.
    Redeliver(String, String),
    /// `POST …/test`: a sample event to one of the user's subscriptions, at once.
    Test,
    /// `POST /api/v6/call/events`: the call system publishes events (its own token, not a user's).
    Publish,
}

impl Route {
    /// Whether the route needs a signed-in user.
    pub fn needs_user(&self) -> bool {
        !matches!(self, Self::Health | Self::OpenApi | Self::Preflight | Self::Publish)
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
        let Some(params) = match_template(template, path) else {
            continue;
        };
        if !route_method.eq_ignore_ascii_case(method) {
            allowed.push(*route_method);
            continue;
        }
        let [id, event_id] = params.map(|p| p.unwrap_or_default().to_owned());
        let tail = template.strip_prefix(API_BASE).unwrap_or(template);
        return Ok(match (*route_method, tail) {
            ("GET", "/healthz") => Route::Health,
            ("GET", "/openapi.json") => Route::OpenApi,
            ("POST", "/subscribe") => Route::Subscribe,
            ("POST", "/test") => Route::Test,
            ("POST", "/api/v6/call/events") => Route::Publish,
            ("GET", "/subscriptions") => Route::List,
            ("GET", "/subscriptions/{id}/deliveries") => Route::Deliveries(id),
            ("POST", "/subscriptions/{id}/rotate-secret") => Route::RotateSecret(id),
            ("POST", _) => Route::Redeliver(id, event_id),
            ("GET", _) => Route::Get(id),
            ("PATCH", _) => Route::Update(id),
            _ => Route::Delete(id),
        });
    }
    if allowed.is_empty() {
        Err(RouteError::NotFound)
    } else {
        Err(RouteError::MethodNotAllowed(allowed))
    }
}

/// The `{id}` and `{event_id}` parameters when `path` fits `template`.
fn match_template<'p>(template: &str, path: &'p str) -> Option<[Option<&'p str>; 2]> {
    let mut params = [None, None];
    let mut template_parts = template.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (template_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some("{id}"), Some(part)) if !part.is_empty() => params[0] = Some(part),
            (Some("{event_id}"), Some(part)) if !part.is_empty() => params[1] = Some(part),
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
            let path = template.replace("{id}", "sub_1").replace("{event_id}", "evt_1");
            assert!(route(method, &path).is_ok(), "{method} {path}");
        }
    }

    #[test]
    fn paths_select_routes() {
        let base = API_BASE;
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(route("POST", &format!("{base}/subscribe/")), Ok(Route::Subscribe));
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
        assert_eq!(route("POST", "/api/v6/call/events"), Ok(Route::Publish));
        assert_eq!(route("POST", &format!("{base}/test")), Ok(Route::Test));
        assert_eq!(
            route("GET", &format!("{base}/subscriptions/sub_9/deliveries")),
            Ok(Route::Deliveries("sub_9".into()))
        );
        assert_eq!(
            route(
                "POST",
                &format!("{base}/subscriptions/sub_9/deliveries/evt_3/redeliver")
            ),
            Ok(Route::Redeliver("sub_9".into(), "evt_3".into()))
        );
        assert_eq!(route("GET", &format!("{base}/nope")), Err(RouteError::NotFound));
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
