//! IMAP response codes (RFC 3501 §7.1, RFC 5530): where a store outcome
//! becomes the code a client acts on.

use crate::store::StoreError;

/// The one place store errors become IMAP response codes (RFC 5530).
pub fn describe(error: &StoreError, target_mailbox: bool) -> (&'static str, String) {
    let code = match error {
        // RFC 3501 §6.3.11: a missing APPEND/COPY target gets TRYCREATE.
        StoreError::NoSuchMailbox if target_mailbox => "TRYCREATE",
        StoreError::NoSuchMailbox => "NONEXISTENT",
        StoreError::MailboxExists => "ALREADYEXISTS",
        StoreError::HasChildren => "HASCHILDREN",
        StoreError::CannotDeleteInbox | StoreError::NotSelectable | StoreError::RenameIntoChild => "CANNOT",
        StoreError::TooManyKeywords | StoreError::TooManyMailboxes => "LIMIT",
        StoreError::NoSuchUser | StoreError::UserExists => "CANNOT",
        StoreError::DeviceExists | StoreError::NoSuchDevice | StoreError::TooManyDevices => "CANNOT",
        StoreError::NoSpace | StoreError::DiskFull(_) => "OVERQUOTA",
        StoreError::NoSuchBlob | StoreError::Locked | StoreError::NeedsRepair | StoreError::Io(_) => "UNAVAILABLE",
        StoreError::Corrupt(_) => "CORRUPTION",
        StoreError::Bug(_) => "SERVERBUG",
    };
    let text = match error {
        StoreError::NoSpace | StoreError::DiskFull(_) => "Not enough disk space".to_string(),
        StoreError::Io(_) => "Storage failure; nothing was changed".to_string(),
        StoreError::Bug(_) => "Internal error; nothing was changed".to_string(),
        other => {
            let text = other.to_string();
            let mut chars = text.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    };
    (code, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_response_codes() {
        assert_eq!(describe(&StoreError::NoSuchMailbox, true).0, "TRYCREATE");
        assert_eq!(describe(&StoreError::NoSuchMailbox, false).0, "NONEXISTENT");
        assert_eq!(describe(&StoreError::NoSpace, false), ("OVERQUOTA", "Not enough disk space".to_string()));
        assert_eq!(
            describe(&StoreError::MailboxExists, false),
            ("ALREADYEXISTS", "Mailbox already exists".to_string())
        );
        assert_eq!(describe(&StoreError::Bug("x".into()), false).0, "SERVERBUG");
    }
}
