//! [`PageError`]: a console page other than the one asked for (the sign-in redirect, "no
//! such environment", a refusal, a failure), already rendered with the console's
//! templates. Handlers return `Result<Response, PageError>` and pass the helpers' refusals
//! on with `?`.

use axum::response::{IntoResponse, Response};

/// A rendered refusal; see the module documentation.
pub struct PageError(Response);

impl From<Response> for PageError {
    fn from(page: Response) -> Self {
        Self(page)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0
    }
}
