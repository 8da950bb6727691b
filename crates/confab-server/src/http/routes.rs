//! A router that records what it serves. Every route goes in through [`Routes`] with its
//! method, so the list of `(method, path)` pairs is always the router's own: the OpenAPI
//! document is checked against it (see [`super::openapi`]). The router has no state yet, so
//! it can be built, and its list read, without a hub.

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

use super::AppState;

/// One served route: its method and its path as axum spells it (`/api/v1/rooms/{room}`, the
/// same template syntax as OpenAPI's). `GET` routes answer `HEAD` too, as axum does.
pub type Served = (Method, &'static str);

/// Routes under construction, each recorded as it is added.
pub struct Routes {
    router: Router<AppState>,
    served: Vec<Served>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            served: Vec::new(),
        }
    }

    pub fn get<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::GET, path, handler)
    }

    pub fn post<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::POST, path, handler)
    }

    pub fn put<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::PUT, path, handler)
    }

    pub fn patch<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::PATCH, path, handler)
    }

    pub fn delete<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::DELETE, path, handler)
    }

    /// `method` on `path`. Several methods on one path share it (axum merges them, and answers
    /// any other method with `405`); the same method twice on one path panics when built.
    pub fn route<H, T>(self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let endpoint = on(filter(&method), handler);
        self.add(method, path, endpoint)
    }

    /// Like [`Routes::route`], with a body limit of its own instead of the server-wide one
    /// (uploads stream far more than a JSON body may hold).
    pub fn route_with_body_limit<H, T>(
        self,
        method: Method,
        path: &'static str,
        handler: H,
        limit: usize,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let endpoint = on(filter(&method), handler).layer(DefaultBodyLimit::max(limit));
        self.add(method, path, endpoint)
    }

    fn add(mut self, method: Method, path: &'static str, endpoint: MethodRouter<AppState>) -> Self {
        self.served.push((method, path));
        self.router = self.router.route(path, endpoint);
        self
    }

    /// The router (still without its state) and the list of what it serves, in order.
    pub fn finish(self) -> (Router<AppState>, Vec<Served>) {
        (self.router, self.served)
    }
}

/// The axum filter for a method: the REST API uses these five.
fn filter(method: &Method) -> MethodFilter {
    match *method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        _ => panic!("no route may be served on {method}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ok() -> &'static str {
        "ok"
    }

    #[test]
    fn every_route_is_recorded_with_its_method() {
        let routes = Routes::new()
            .get("/a", ok)
            .post("/a", ok)
            .delete("/b/{id}", ok)
            .route_with_body_limit(Method::PUT, "/c", ok, 10);
        let (_router, served) = routes.finish();
        assert_eq!(
            served,
            [
                (Method::GET, "/a"),
                (Method::POST, "/a"),
                (Method::DELETE, "/b/{id}"),
                (Method::PUT, "/c"),
            ]
        );
    }

    #[test]
    #[should_panic]
    fn the_same_method_twice_on_a_path_is_refused() {
        let _ = Routes::new().get("/a", ok).get("/a", ok).finish();
    }
}
