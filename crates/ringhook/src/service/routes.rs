//! The HTTP routes of the service and how a request's method and path select one.

use crate::protocol::event::is_id;

/// A route's parameters as the path gives them (empty where the template has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'p> {
    /// `{id}`: a subscription id.
    pub id: &'p str,
    /// `{event_id}`: an event id.
    pub event_id: &'p str,
}

/// One route: method, path template, and the [`Route`] it selects (which also says who may call it).
#[derive(Clone, Copy)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path template, exactly as the OpenAPI document lists it.
    pub path: &'static str,
    select: fn(Params<'_>) -> Route,
}

const fn at(method: &'static str, path: &'static str, select: fn(Params<'_>) -> Route) -> RouteSpec {
    RouteSpec { method, path, select }
}

/// Every route, declared once: dispatch, `405` with `Allow`, and the OpenAPI check derive from this table.
pub const ROUTES: &[RouteSpec] = &[
    at("GET", "/healthz", |_| Route::Health),
    at("GET", "/api/v6/call/webhook/openapi.json", |_| Route::OpenApi),
    at("POST", "/api/v6/call/events", |_| Route::Publish),
    at("POST", "/api/v6/call/webhook/subscribe", |_| {
        sub(SubscriptionOp::Subscribe)
    }),
    at("GET", "/api/v6/call/webhook/subscriptions", |_| {
        sub(SubscriptionOp::List)
    }),
    at("GET", "/api/v6/call/webhook/subscriptions/{id}", |p| {
        sub(SubscriptionOp::Get(p.id.into()))
    }),
    at("PATCH", "/api/v6/call/webhook/subscriptions/{id}", |p| {
        sub(SubscriptionOp::Update(p.id.into()))
    }),
    at("DELETE", "/api/v6/call/webhook/subscriptions/{id}", |p| {
        sub(SubscriptionOp::Delete(p.id.into()))
    }),
    at("POST", "/api/v6/call/webhook/subscriptions/{id}/rotate-secret", |p| {
        sub(SubscriptionOp::RotateSecret(p.id.into()))
    }),
    at("GET", "/api/v6/call/webhook/subscriptions/{id}/deliveries", |p| {
        Route::User(UserRoute::Deliveries(p.id.into()))
    }),
    at(
        "POST",
        "/api/v6/call/webhook/subscriptions/{id}/deliveries/{event_id}/redeliver",
        |p| Route::User(UserRoute::Redeliver(p.id.into(), p.event_id.into())),
    ),
    at("GET", "/api/v6/call/webhook/subscriptions/{id}/stats", |p| {
        Route::User(UserRoute::Stats(p.id.into()))
    }),
    at("POST", "/api/v6/call/webhook/subscriptions/{id}/recover", |p| {
        Route::User(UserRoute::Recover(p.id.into()))
    }),
    at("POST", "/api/v6/call/webhook/test", |_| Route::User(UserRoute::Test)),
    at("POST", "/api/v6/call/stream/ticket", |_| {
        Route::User(UserRoute::StreamTicket)
    }),
    at("GET", "/api/v6/call/stream", |_| Route::Stream),
];

const fn sub(op: SubscriptionOp) -> Route {
    Route::User(UserRoute::Subscriptions(op))
}

/// A selected route. The variant says who may call it: anyone, the call system, or a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz` (anyone).
    Health,
    /// `GET …/openapi.json` (anyone).
    OpenApi,
    /// `OPTIONS` anything: a CORS preflight (anyone).
    Preflight,
    /// `POST /api/v6/call/events`: the call system publishes events, with its own token.
    Publish,
    /// `GET /api/v6/call/stream`: a WebSocket of the user's events, opened with a ticket (see
    /// [`crate::service::stream`]).
    Stream,
    /// A route of the signed-in user.
    User(UserRoute),
}

/// A route that needs a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRoute {
    /// Reads or changes the user's subscriptions: answered by the user's object.
    Subscriptions(SubscriptionOp),
    /// `POST …/test`: a sample event to one of the user's subscriptions, at once.
    Test,
    /// `GET …/subscriptions/{id}/deliveries`: the delivery log.
    Deliveries(String),
    /// `POST …/subscriptions/{id}/deliveries/{event_id}/redeliver`.
    Redeliver(String, String),
    /// `POST …/subscriptions/{id}/recover`: every event not delivered since a time, again.
    Recover(String),
    /// `GET …/subscriptions/{id}/stats`: attempts per hour by outcome, and their times.
    Stats(String),
    /// `POST /api/v6/call/stream/ticket`: a single-use ticket to open the stream with.
    StreamTicket,
}

/// An operation on the user's subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SubscriptionOp {
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

/// No route for the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No route has this path.
    NotFound,
    /// The path exists, with other methods (listed for the `Allow` header).
    MethodNotAllowed(Vec<&'static str>),
    /// The path has a route's shape, but an `{id}` or `{event_id}` in it cannot be one (see [`is_id`]): no
    /// such thing exists, and the text never reaches storage.
    NoSuchId,
}

impl From<RouteError> for crate::service::http::ApiError {
    fn from(e: RouteError) -> Self {
        use crate::service::http::ApiError;
        match e {
            RouteError::NotFound => {
                ApiError::new(404, "not_found", "no such route: see /api/v6/call/webhook/openapi.json")
            }
            RouteError::NoSuchId => ApiError::new(
                404,
                "not_found",
                "no such subscription or event: ids are 1 to 100 letters, digits, '_' or '-'",
            ),
            RouteError::MethodNotAllowed(allowed) => ApiError {
                allow: Some(allowed.join(", ")),
                ..ApiError::new(
                    405,
                    "method_not_allowed",
                    format!("this route takes {}", allowed.join(", ")),
                )
            },
        }
    }
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
    let mut bad_id = false;
    for spec in ROUTES {
        let Some([id, event_id]) = match_template(spec.path, path) else {
            continue;
        };
        if !id.is_none_or(is_id) || !event_id.is_none_or(is_id) {
            bad_id = true;
            continue;
        }
        if !spec.method.eq_ignore_ascii_case(method) {
            allowed.push(spec.method);
            continue;
        }
        return Ok((spec.select)(Params {
            id: id.unwrap_or_default(),
            event_id: event_id.unwrap_or_default(),
        }));
    }
    if !allowed.is_empty() {
        Err(RouteError::MethodNotAllowed(allowed))
    } else if bad_id {
        Err(RouteError::NoSuchId)
    } else {
        Err(RouteError::NotFound)
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
    use crate::model::api::API_BASE;

    #[test]
    fn every_listed_route_is_reachable_and_selects_its_own_entry() {
        for spec in ROUTES {
            let path = spec.path.replace("{id}", "sub_1").replace("{event_id}", "evt_1");
            let selected = route(spec.method, &path).unwrap();
            let first = ROUTES
                .iter()
                .find(|s| s.method == spec.method && match_template(s.path, &path).is_some())
                .unwrap();
            assert_eq!(first.path, spec.path, "{} {path} is shadowed", spec.method);
            assert_ne!(selected, Route::Preflight);
        }
    }

    #[test]
    fn paths_select_routes() {
        let base = API_BASE;
        let user = |op| Ok(Route::User(UserRoute::Subscriptions(op)));
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(
            route("POST", &format!("{base}/subscribe/")),
            user(SubscriptionOp::Subscribe)
        );
        assert_eq!(
            route("GET", &format!("{base}/subscriptions/sub_9")),
            user(SubscriptionOp::Get("sub_9".into()))
        );
        assert_eq!(
            route("PATCH", &format!("{base}/subscriptions/sub_9")),
            user(SubscriptionOp::Update("sub_9".into()))
        );
        assert_eq!(
            route("DELETE", &format!("{base}/subscriptions/sub_9")),
            user(SubscriptionOp::Delete("sub_9".into()))
        );
        assert_eq!(
            route("POST", &format!("{base}/subscriptions/sub_9/rotate-secret")),
            user(SubscriptionOp::RotateSecret("sub_9".into()))
        );
        assert_eq!(route("OPTIONS", "/anything"), Ok(Route::Preflight));
        assert_eq!(route("POST", "/api/v6/call/events"), Ok(Route::Publish));
        assert_eq!(route("POST", &format!("{base}/test")), Ok(Route::User(UserRoute::Test)));
        assert_eq!(
            route("GET", &format!("{base}/subscriptions/sub_9/deliveries")),
            Ok(Route::User(UserRoute::Deliveries("sub_9".into())))
        );
        assert_eq!(
            route(
                "POST",
                &format!("{base}/subscriptions/sub_9/deliveries/evt_3/redeliver")
            ),
            Ok(Route::User(UserRoute::Redeliver("sub_9".into(), "evt_3".into())))
        );
        assert_eq!(route("GET", &format!("{base}/nope")), Err(RouteError::NotFound));
        for bad in ["a:b", "a%3Ab", "x.y", "%20", &"a".repeat(101)] {
            assert_eq!(
                route("GET", &format!("{base}/subscriptions/{bad}")),
                Err(RouteError::NoSuchId),
                "{bad}"
            );
            assert_eq!(
                route(
                    "POST",
                    &format!("{base}/subscriptions/sub_1/deliveries/{bad}/redeliver")
                ),
                Err(RouteError::NoSuchId),
                "{bad}"
            );
        }
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
