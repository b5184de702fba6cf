//! Who may record: every event names the signed-in user who acted, and the
//! audit trail is only as good as that name (DESIGN.md: "not knowing who entered
//! a value on a shared tablet" is a bug here). The server accepts an event only
//! from a user of the recording device's site who was active at the moment the
//! event was recorded.

use std::fmt;

use uuid::Uuid;

use crate::time::Moment;
use crate::wire::MAX_CLOCK_OFFSET_MS;

/// A user of a site, with the span of time in which they may record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// The id events name.
    pub user_id: Uuid,
    /// When the user was created, on the server's clock: no tablet could know
    /// them, let alone sign them in, before.
    pub active_from_ms: i64,
    /// When the user was disabled, on the server's clock, if they were.
    pub disabled_at_ms: Option<i64>,
}

/// Occurs when an event names a user who may not have recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecorderError {
    /// Occurs when the user is no user of the device's site.
    Unknown {
        /// The user the event names.
        user_id: Uuid,
    },
    /// Occurs when the event is dated before the user existed.
    NotYetActive {
        /// The user the event names.
        user_id: Uuid,
        /// When the user was created.
        active_from_ms: i64,
    },
    /// Occurs when the event is dated after the user was disabled.
    Disabled {
        /// The user the event names.
        user_id: Uuid,
        /// When the user was disabled.
        disabled_at_ms: i64,
    },
}

/// Whether `user_id`, among the site's `members`, may have recorded an event at
/// `recorded_at`. The tablet's clock may differ from the server's by up to
/// [`MAX_CLOCK_OFFSET_MS`] (it says so beyond that), so the span is widened by as
/// much at both ends.
pub fn check_recorder(
    members: &[Member],
    user_id: Uuid,
    recorded_at: Moment,
) -> Result<(), RecorderError> {
    let member = members
        .iter()
        .find(|member| member.user_id == user_id)
        .ok_or(RecorderError::Unknown { user_id })?;
    let at = recorded_at.utc_ms();
    if at < member.active_from_ms.saturating_sub(MAX_CLOCK_OFFSET_MS) {
        return Err(RecorderError::NotYetActive {
            user_id,
            active_from_ms: member.active_from_ms,
        });
    }
    if let Some(disabled_at_ms) = member.disabled_at_ms
        && at > disabled_at_ms.saturating_add(MAX_CLOCK_OFFSET_MS)
    {
        return Err(RecorderError::Disabled {
            user_id,
            disabled_at_ms,
        });
    }
    Ok(())
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown { user_id } => {
                write!(f, "user {user_id} is not a user of this tablet's site")
            }
            Self::NotYetActive {
                user_id,
                active_from_ms,
            } => write!(
                f,
                "user {user_id} was created at {active_from_ms} ms UTC, after the event was \
                 recorded"
            ),
            Self::Disabled {
                user_id,
                disabled_at_ms,
            } => write!(
                f,
                "user {user_id} was disabled at {disabled_at_ms} ms UTC, before the event was \
                 recorded"
            ),
        }
    }
}

impl std::error::Error for RecorderError {}

#[cfg(test)]
mod tests {
    use super::*;

    const NURSE: Uuid = Uuid::from_u128(1);
    const DAY: i64 = 24 * 60 * 60 * 1000;
    const CREATED: i64 = 1_772_323_200_000;

    fn check(disabled_at_ms: Option<i64>, user_id: Uuid, at_ms: i64) -> Result<(), RecorderError> {
        let members = [Member {
            user_id: NURSE,
            active_from_ms: CREATED,
            disabled_at_ms,
        }];
        check_recorder(&members, user_id, Moment::new(at_ms, 480).unwrap())
    }

    #[test]
    fn only_a_member_active_at_the_moment_records() {
        assert_eq!(check(None, NURSE, CREATED + DAY), Ok(()));
        // A tablet clock a little behind the server's.
        assert_eq!(check(None, NURSE, CREATED - MAX_CLOCK_OFFSET_MS), Ok(()));
        assert_eq!(
            check(None, NURSE, CREATED - MAX_CLOCK_OFFSET_MS - 1),
            Err(RecorderError::NotYetActive {
                user_id: NURSE,
                active_from_ms: CREATED
            })
        );
        let stranger = Uuid::from_u128(2);
        assert_eq!(
            check(None, stranger, CREATED + DAY),
            Err(RecorderError::Unknown { user_id: stranger })
        );
        let disabled = CREATED + DAY;
        assert_eq!(check(Some(disabled), NURSE, disabled), Ok(()));
        assert_eq!(
            check(Some(disabled), NURSE, disabled + MAX_CLOCK_OFFSET_MS + 1),
            Err(RecorderError::Disabled {
                user_id: NURSE,
                disabled_at_ms: disabled
            })
        );
    }
}
