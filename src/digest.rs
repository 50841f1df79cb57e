//! Digests as lowercase hex: MD5 (what S3 gives as an ETag), SHA-256 (asset
//! and binary keys, template URLs) and BLAKE3 (deploy hashes), of bytes or
//! of a file read in blocks, never held whole.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Hex BLAKE3 of `bytes`.
pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Hex MD5 and size of a file.
pub fn md5_of_file(path: &Path) -> std::io::Result<(String, u64)> {
    of_file::<Md5>(path)
}

/// Hex SHA-256 and size of a file.
pub fn sha256_of_file(path: &Path) -> std::io::Result<(String, u64)> {
    of_file::<Sha256>(path)
}

/// The ETag S3 gives an object put in parts of `part` bytes: the hex MD5
/// of the parts' MD5s, a dash, the number of parts. Read in blocks.
pub fn multipart_etag_of_file(path: &Path, part: u64) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut parts = Md5::new();
    let mut count = 0u64;
    let mut size = 0u64;
    let mut block = vec![0; 1 << 16];
    loop {
        let mut hasher = Md5::new();
        let mut taken = 0u64;
        while taken < part {
            let want = (part - taken).min(block.len() as u64) as usize;
            let n = file.read(&mut block[..want])?;
            if n == 0 {
                break;
            }
            hasher.update(&block[..n]);
            taken += n as u64;
        }
        if taken == 0 {
            break;
        }
        parts.update(hasher.finalize());
        count += 1;
        size += taken;
        if taken < part {
            break;
        }
    }
    Ok((format!("{}-{count}", hex(&parts.finalize())), size))
}

fn of_file<D: Digest>(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = D::new();
    let mut block = vec![0; 1 << 16];
    let mut size = 0;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
        size += n as u64;
    }
    Ok((hex(&hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_their_published_test_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn a_multipart_etag_is_the_md5_of_the_parts_md5s() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        let bytes: Vec<u8> = (0..250_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&file, &bytes).unwrap();
        let parts: Vec<u8> = bytes
            .chunks(100_000)
            .flat_map(|c| Md5::digest(c).to_vec())
            .collect();
        let expected = format!("{}-3", md5_hex(&parts));
        assert_eq!(
            multipart_etag_of_file(&file, 100_000).unwrap(),
            (expected, 250_000)
        );
    }

    #[test]
    fn a_file_digest_equals_the_digest_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&file, &bytes).unwrap();
        assert_eq!(md5_of_file(&file).unwrap(), (md5_hex(&bytes), 200_000));
        assert_eq!(
            sha256_of_file(&file).unwrap(),
            (sha256_hex(&bytes), 200_000)
        );
    }
}
