//! `lmi api`: authenticated requests to the environment's service.

use super::Ctx;
use crate::cli::ApiArgs;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &ApiArgs) -> Result<u8> {
    Err(Error::internal("not implemented"))
}
