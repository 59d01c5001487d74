//! `lmi credential git`.
