//! IMAP response codes (RFC 3501 §7.1, RFC 5530 and the extensions'):
//! the one list of the codes roost sends, written in one place, and where
//! a store outcome becomes the code a client acts on (issue 14, item 4).

use crate::store::StoreError;

/// A response code, `[CODE]` before a response's text. Codes that carry
/// data their command computes (APPENDUID, COPYUID, HIGHESTMODSEQ,
/// MODIFIED, BADURL, BADEVENT, CAPABILITY, MAILBOXID...) are
/// [`Code::Data`], written whole by that command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Code {
    AlreadyExists,
    AuthenticationFailed,
    AuthorizationFailed,
    BadCharset,
    Cannot,
    CompressionActive,
    Corruption,
    ExpungeIssued,
    HasChildren,
    Limit,
    NonExistent,
    /// RFC 5530 §3: the user lacks the right (RFC 4314) the command needs.
    NoPerm,
    OverQuota,
    Parse,
    PrivacyRequired,
    ReadOnly,
    ReadWrite,
    ServerBug,
    TooBig,
    TryCreate,
    Unavailable,
    /// RFC 9586: a sequence number where only UIDs are allowed.
    UidRequired,
    /// RFC 3516 §4.3: BINARY of a transfer encoding not known.
    UnknownCte,
    /// A code with its data, e.g. `APPENDUID 38505 3955`.
    Data(String),
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Code {
    /// The code as sent, without brackets.
    pub fn as_str(&self) -> &str {
        match self {
            Code::AlreadyExists => "ALREADYEXISTS",
            Code::AuthenticationFailed => "AUTHENTICATIONFAILED",
            Code::AuthorizationFailed => "AUTHORIZATIONFAILED",
            Code::BadCharset => "BADCHARSET",
            Code::Cannot => "CANNOT",
            Code::CompressionActive => "COMPRESSIONACTIVE",
            Code::Corruption => "CORRUPTION",
            Code::ExpungeIssued => "EXPUNGEISSUED",
            Code::HasChildren => "HASCHILDREN",
            Code::Limit => "LIMIT",
            Code::NonExistent => "NONEXISTENT",
            Code::NoPerm => "NOPERM",
            Code::OverQuota => "OVERQUOTA",
            Code::Parse => "PARSE",
            Code::PrivacyRequired => "PRIVACYREQUIRED",
            Code::ReadOnly => "READ-ONLY",
            Code::ReadWrite => "READ-WRITE",
            Code::ServerBug => "SERVERBUG",
            Code::TooBig => "TOOBIG",
            Code::TryCreate => "TRYCREATE",
            Code::Unavailable => "UNAVAILABLE",
            Code::UidRequired => "UIDREQUIRED",
            Code::UnknownCte => "UNKNOWN-CTE",
            Code::Data(text) => text,
        }
    }
}

/// The one place store errors become IMAP response codes (RFC 5530).
pub fn describe(error: &StoreError, target_mailbox: bool) -> (Code, String) {
    let code = match error {
        // RFC 3501 §6.3.11: a missing APPEND/COPY target gets TRYCREATE.
        StoreError::NoSuchMailbox if target_mailbox => Code::TryCreate,
        StoreError::NoSuchMailbox => Code::NonExistent,
        StoreError::MailboxExists => Code::AlreadyExists,
        StoreError::HasChildren => Code::HasChildren,
        StoreError::CannotDeleteInbox | StoreError::NotSelectable | StoreError::RenameIntoChild => Code::Cannot,
        StoreError::TooManyKeywords | StoreError::TooManyMailboxes | StoreError::TooManyUsers => Code::Limit,
        StoreError::NoSuchUser | StoreError::UserExists | StoreError::OwnerRights => Code::Cannot,
        StoreError::DeviceExists | StoreError::NoSuchDevice | StoreError::TooManyDevices => Code::Cannot,
        StoreError::NoSpace | StoreError::DiskFull(_) | StoreError::OverQuota(_) => Code::OverQuota,
        StoreError::NoSuchBlob
        | StoreError::Locked
        | StoreError::NeedsRepair
        | StoreError::OtherLayout(_)
        | StoreError::Io(_) => Code::Unavailable,
        StoreError::Corrupt(_) => Code::Corruption,
        StoreError::Bug(_) => Code::ServerBug,
    };
    let text = match error {
        StoreError::NoSpace | StoreError::DiskFull(_) => "Not enough disk space".to_string(),
        StoreError::Io(_) => "Storage failure; nothing was changed".to_string(),
        // RFC 9208 §4.3: the reason, and what the user can do about it.
        StoreError::OverQuota(reason) => {
            format!("Over quota: {reason}; delete some mail (empty Trash, remove large messages) first")
        }
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
        assert_eq!(describe(&StoreError::NoSuchMailbox, true).0, Code::TryCreate);
        assert_eq!(describe(&StoreError::NoSuchMailbox, false).0, Code::NonExistent);
        assert_eq!(describe(&StoreError::NoSpace, false), (Code::OverQuota, "Not enough disk space".to_string()));
        assert_eq!(
            describe(&StoreError::MailboxExists, false),
            (Code::AlreadyExists, "Mailbox already exists".to_string())
        );
        assert_eq!(describe(&StoreError::Bug("x".into()), false).0, Code::ServerBug);
    }
}
