//! Settings defaults have one source: the `#[arg(default_value…)]` attributes of each settings
//! struct. [`defaults`] builds a struct from them alone (no flags, no environment), for
//! `Default` impls and tests.

use clap::{Args, Command, FromArgMatches};

/// `T` with every field at its declared default, ignoring flags and the environment.
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let cmd = T::augment_args(Command::new("defaults")).mut_args(|a| a.env(None));
    let matches = cmd
        .try_get_matches_from(["defaults"])
        .expect("every setting has a default");
    T::from_arg_matches(&matches).expect("defaults parse")
}
