//! Bearer tokens and session secrets: generated here, stored only as SHA-256 hashes.
//!
//! Tokens are 32 random bytes (256 bits), so a fast hash is the right tool: there is nothing to
//! brute-force that a slow password hash would protect.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes Paliadin tokens recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "pal_";

/// A fresh random token, e.g. `pal_3f9c…` (64 hex digits after the prefix).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a token or session secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = new_token();
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == 68);
        assert_ne!(a, new_token());
        assert_eq!(hash(&a), hash(&a));
        assert_eq!(hash(&a).len(), 32);
    }
}
