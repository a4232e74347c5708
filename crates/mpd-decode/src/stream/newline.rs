//! Finding `\n` a word at a time: the splitter looks at every byte of the input, and a
//! byte-by-byte loop would cost as much as a good part of the decoding itself.

const LOW_BITS: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);

/// Index of the first `\n` in `bytes`.
pub(super) fn find(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let word: [u8; 8] = word.try_into().expect("chunks_exact yields 8-byte slices");
        // Bytes equal to '\n' become zero; the classic zero-byte test then sets the high bit
        // of the first zero byte (later ones may be false positives, which is why only the
        // lowest is used).
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        let zeros = x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS;
        if zeros != 0 {
            return Some(base + (zeros.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    words.remainder().iter().position(|&b| b == b'\n').map(|i| base + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_plain_search() {
        // Every position in and around a word, with neighbours that trip naive bit tricks
        // (0x0b is '\n' + 1, 0x8a has the high bit set).
        for len in 0..40 {
            for at in 0..=len {
                for filler in [b'a', 0x0b, 0x8a, 0x09, 0xff, 0x00] {
                    let mut bytes = vec![filler; len];
                    if at < len {
                        bytes[at] = b'\n';
                        if at + 1 < len {
                            bytes[at + 1] = b'\n';
                        }
                    }
                    let expected = bytes.iter().position(|&b| b == b'\n');
                    assert_eq!(find(&bytes), expected, "len {len} at {at} filler {filler:#x}");
                }
            }
        }
    }
}
