//! Identifiers: 22 alphanumerics from the OS random source (≈131 bits), `id#` + 22 for speakers
//! and fraudsters.

use crate::error::Error;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Fills `buf` from the OS random source.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|e| Error::Internal(format!("no randomness: {e}")))
}

/// 22 characters uniformly from `[A-Za-z0-9]`: a domain, watchlist, job or result id.
pub fn unique_id() -> Result<String, Error> {
    let mut out = String::with_capacity(22);
    while out.len() < 22 {
        let mut buf = [0u8; 32];
        random_bytes(&mut buf)?;
        for b in buf {
            // Rejection sampling keeps the distribution uniform: 248 = 4 × 62.
            if b < 248 && out.len() < 22 {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// `id#` + 22 alphanumerics: a generated speaker, fraudster or session id.
pub fn generated_id() -> Result<String, Error> {
    Ok(format!("id#{}", unique_id()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_model_formats() {
        let re = regex::Regex::new("^[a-zA-Z0-9]{22}$").unwrap();
        let gre = regex::Regex::new("^id#[a-zA-Z0-9]{22}$").unwrap();
        let a = unique_id().unwrap();
        assert!(re.is_match(&a), "{a}");
        assert!(gre.is_match(&generated_id().unwrap()));
        assert_ne!(a, unique_id().unwrap());
    }
}
