//! [`MqttStr`]: an MQTT UTF-8 Encoded String ([MQTT-1.5.4]) held as a zero-copy
//! slice of the packet's `Bytes`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

use super::error::ProtocolError;

/// A UTF-8 string validated per [MQTT-1.5.4-1..2] (valid UTF-8, no U+0000),
/// zero-copy over `Bytes`.
///
/// Decoded strings are always validated. The `From<&str>` / `From<String>`
/// conversions and [`MqttStr::from_static`] are for the broker's own strings:
/// Rust strings are valid UTF-8 by construction, and U+0000 is *not* checked
/// there (keep it out of strings you build; use [`MqttStr::try_from_bytes`] for
/// anything that came from outside).
///
/// Hashing, equality and ordering agree with `str`, so `MqttStr` keys can be
/// looked up by `&str` (`Borrow<str>`).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct MqttStr(Bytes);

impl MqttStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor guarantees valid UTF-8: `try_from_bytes`
        // checks it, the `From` impls and `from_static` start from `str`.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes (cheap to clone: a reference count).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes, consuming the string.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// A string over static text, without copying.
    pub fn from_static(s: &'static str) -> Self {
        MqttStr(Bytes::from_static(s.as_bytes()))
    }

    /// Validates untrusted bytes: UTF-8 [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2].
    pub fn try_from_bytes(b: Bytes) -> Result<Self, ProtocolError> {
        Self::validated(b, "string")
    }

    /// [`MqttStr::try_from_bytes`] with the field name in the error.
    pub(crate) fn validated(b: Bytes, what: &'static str) -> Result<Self, ProtocolError> {
        if b.contains(&0) {
            return Err(ProtocolError::NullInString { what });
        }
        if std::str::from_utf8(&b).is_err() {
            return Err(ProtocolError::InvalidUtf8 { what });
        }
        Ok(MqttStr(b))
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for MqttStr {
    fn from(s: &str) -> Self {
        MqttStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for MqttStr {
    fn from(s: String) -> Self {
        MqttStr(Bytes::from(s.into_bytes()))
    }
}

impl Deref for MqttStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for MqttStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for MqttStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for MqttStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for MqttStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn is_invalid_utf8_rejected_mqtt_1_5_4_1() {
        let err = MqttStr::try_from_bytes(Bytes::from_static(&[0x61, 0xC3, 0x28]));
        assert_eq!(err, Err(ProtocolError::InvalidUtf8 { what: "string" }));
    }

    #[test]
    fn is_u0000_rejected_mqtt_1_5_4_2() {
        let err = MqttStr::try_from_bytes(Bytes::from_static(b"a\0b"));
        assert_eq!(err, Err(ProtocolError::NullInString { what: "string" }));
    }

    #[test]
    fn is_a_decoded_string_a_slice_of_its_buffer() {
        let buf = Bytes::from_static(b"xxsport/tennis");
        let s = MqttStr::try_from_bytes(buf.slice(2..)).expect("valid");
        assert_eq!(s.as_str(), "sport/tennis");
        assert_eq!(s.as_bytes().as_ptr(), buf[2..].as_ptr());
    }

    #[test]
    fn can_a_set_of_mqtt_strs_be_queried_by_str() {
        let set: HashSet<MqttStr> = ["a/b", "c"].into_iter().map(MqttStr::from).collect();
        assert!(set.contains("a/b"));
        assert!(!set.contains("a"));
    }

    #[test]
    fn do_debug_and_display_print_the_text() {
        let s = MqttStr::from(String::from("héllo"));
        assert_eq!(format!("{s}"), "héllo");
        assert_eq!(format!("{s:?}"), "\"héllo\"");
        assert_eq!(s.len(), 6);
        assert!(MqttStr::from_static("").is_empty());
    }
}
