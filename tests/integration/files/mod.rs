//! lmi's own files against other local users (SPEC §1): folders and files
//! others can write or own, planted tokens and metadata, lock symlinks, and
//! temporary files left by a killed write. CI runs as root, where modes do
//! not stop reads: ownership and modes are asserted directly.

mod hostile_sharing;
