//! Timestamps on the wire: RFC 3339, UTC, millisecond precision
//! (`2025-01-31T23:59:59.123Z`), one format for every field.

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
        serializer.serialize_str(&rfc3339_millis(self.0 .0))
    }
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDThh:mm:ss.sssZ`.
pub(crate) fn rfc3339_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339_millis;

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
