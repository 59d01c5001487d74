//! `lmi plugin list|install|uninstall`.

use super::Ctx;
use crate::cli::PluginCommand;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _cmd: PluginCommand) -> Result<u8> {
    Err(Error::internal("not implemented"))
}
