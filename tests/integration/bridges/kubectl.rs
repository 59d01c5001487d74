//! `lmi credential kubectl`.
