//! LIST with LIST-EXTENDED's selection and return options (RFC 5258 §3,
//! RFC 9051 §6.3.9), LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154 §3).

use super::{status_items, Parser, Result};
use crate::imap::types::{CommandBody, ListArguments, ListOptions};

/// Patterns one LIST may name; each costs a pass over the mailboxes.
const MAX_PATTERNS: usize = 64;

/// `LIST [SP (selection)] SP reference SP (pattern / (patterns)) [SP RETURN (options)]`,
/// after the command name.
pub fn list(parser: &mut Parser) -> Result<CommandBody> {
    parser.sp()?;
    let mut options = None;
    if parser.peek() == Some(b'(') {
        options = Some(selection_options(parser)?);
        parser.sp()?;
    }
    let reference = parser.mailbox()?;
    parser.sp()?;
    let patterns = if parser.try_byte(b'(') {
        let mut patterns = Vec::new();
        loop {
            if patterns.len() == MAX_PATTERNS {
                return Err("too many patterns".into());
            }
            patterns.push(parser.list_mailbox()?);
            if parser.try_byte(b')') {
                break;
            }
            parser.sp()?;
        }
        options.get_or_insert_with(ListOptions::default);
        patterns
    } else {
        vec![parser.list_mailbox()?]
    };
    if parser.try_byte(b' ') {
        if !parser.try_keyword("RETURN ") {
            return Err("expected RETURN".into());
        }
        return_options(parser, options.get_or_insert_with(ListOptions::default))?;
    }
    Ok(CommandBody::List(ListArguments { reference, patterns, subscribed_only: false, options }))
}

/// `(SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE)`, possibly empty.
fn selection_options(parser: &mut Parser) -> Result<ListOptions> {
    let mut options = ListOptions::default();
    option_words(parser, |_, word| {
        match word {
            b"SUBSCRIBED" => options.subscribed = true,
            b"REMOTE" => options.remote = true,
            b"RECURSIVEMATCH" => options.recursive_match = true,
            b"SPECIAL-USE" => options.special_use = true,
            _ => return Err(format!("unknown LIST selection option {}", String::from_utf8_lossy(word))),
        }
        Ok(())
    })?;
    // RFC 5258 §3: RECURSIVEMATCH modifies a base option; SUBSCRIBED is
    // the only one (SPECIAL-USE is independent, RFC 6154 §6).
    if options.recursive_match && !options.subscribed {
        return Err("RECURSIVEMATCH needs the SUBSCRIBED selection option".into());
    }
    // RFC 5258 §3.1: SUBSCRIBED selection implies the SUBSCRIBED return option.
    options.return_subscribed = options.subscribed;
    Ok(options)
}

/// `(SUBSCRIBED CHILDREN SPECIAL-USE STATUS (items))`, possibly empty,
/// after `RETURN `.
fn return_options(parser: &mut Parser, options: &mut ListOptions) -> Result<()> {
    option_words(parser, |parser, word| {
        match word {
            b"SUBSCRIBED" => options.return_subscribed = true,
            b"CHILDREN" => options.return_children = true,
            b"SPECIAL-USE" => options.return_special_use = true,
            b"STATUS" => {
                parser.sp()?;
                let items = status_items(parser)?;
                if options.status.replace(items).is_some() {
                    return Err("STATUS return option given twice".into());
                }
            }
            _ => return Err(format!("unknown LIST return option {}", String::from_utf8_lossy(word))),
        }
        Ok(())
    })
}

/// A parenthesised, space-separated list of option words (upper-cased for
/// `each`, which may read the option's own arguments after it).
fn option_words(parser: &mut Parser, mut each: impl FnMut(&mut Parser, &[u8]) -> Result<()>) -> Result<()> {
    parser.byte(b'(')?;
    let mut first = true;
    while !parser.try_byte(b')') {
        if !first {
            parser.sp()?;
        }
        first = false;
        let word = parser.atom()?.to_ascii_uppercase();
        each(parser, &word)?;
    }
    Ok(())
}
