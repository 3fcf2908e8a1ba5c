//! Timestamps on the wire: RFC 3339, UTC, millisecond precision
//! (`2025-01-31T23:59:59.123Z`), one format for every field.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use sessiondb_engine::UnixMillis;
use utoipa::ToSchema;

/// An instant as the engine reports it (Redis's clock), serialized as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(
    value_type = String,
    format = DateTime,
    example = "2025-01-31T23:59:59.123Z"
)]
pub(crate) struct Timestamp(pub(crate) UnixMillis);

impl From<UnixMillis> for Timestamp {
    fn from(value: UnixMillis) -> Self {
        Self(value)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&rfc3339(self.0 .0))
    }
}

/// RFC 3339 in UTC with millisecond precision, e.g. `2025-01-31T23:59:59.123Z`.
fn rfc3339(ms: u64) -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    fn rfc3339_millis(ms: u64) -> String {
        rfc3339(ms).to_string()
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_709_251_199_999),
            "2024-02-29T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_millis(4_102_444_800_001),
            "2100-01-01T00:00:00.001Z"
        );
        assert_eq!(
            rfc3339_millis(1_735_689_600_123),
            "2025-01-01T00:00:00.123Z"
        );
    }
}
