// SPDX-License-Identifier: GPL-2.0
//! A small getopt: short options, bundled (`-nv`) or with a value
//! (`-L name`, `-Lname`), `--` ends the options, and long `--help`.

/// Parsed command line.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Flags and options in order: (letter, value).
    pub opts: Vec<(char, Option<String>)>,
    /// Operands.
    pub rest: Vec<String>,
    /// `--help` or `-h` was given.
    pub help: bool,
}

impl Parsed {
    /// Whether flag `c` was given.
    pub fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }

    /// The last value of option `c`.
    pub fn value(&self, c: char) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(o, _)| *o == c)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// Parses `args` (without the program name). `flags` are the letters
/// without a value, `valued` those with one.
pub fn parse(args: &[String], flags: &str, valued: &str) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            p.rest.extend(args[i..].iter().cloned());
            break;
        }
        if a == "--help" {
            p.help = true;
            continue;
        }
        if a.starts_with("--") {
            return Err(format!("unknown option {a}"));
        }
        let Some(letters) = a.strip_prefix('-').filter(|l| !l.is_empty()) else {
            p.rest.push(a.clone());
            continue;
        };
        for (k, c) in letters.char_indices() {
            if c == 'h' {
                p.help = true;
            } else if flags.contains(c) {
                p.opts.push((c, None));
            } else if valued.contains(c) {
                let tail = &letters[k + c.len_utf8()..];
                let v = if !tail.is_empty() {
                    tail.to_string()
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(format!("option -{c} needs a value"));
                };
                p.opts.push((c, Some(v)));
                break;
            } else {
                return Err(format!("unknown option -{c}"));
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses() {
        let p = parse(&v(&["-nv", "-Lx", "-U", "u", "dev"]), "nvf", "LU").unwrap();
        assert!(p.has('n') && p.has('v') && !p.has('f'));
        assert_eq!(p.value('L'), Some("x"));
        assert_eq!(p.value('U'), Some("u"));
        assert_eq!(p.rest, v(&["dev"]));
        assert!(parse(&v(&["-q"]), "n", "").is_err());
        assert!(parse(&v(&["-U"]), "", "U").is_err());
        assert!(parse(&v(&["--help"]), "", "").unwrap().help);
        assert_eq!(parse(&v(&["--", "-n"]), "n", "").unwrap().rest, v(&["-n"]));
    }
}

/// A byte count with an optional K, M or G suffix (`-o`/`-s` of fsck.nova
/// and nova-inspect).
pub fn size(s: &str) -> Option<u64> {
    let (num, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (s.get(..s.len() - 1)?, 10),
        b'M' | b'm' => (s.get(..s.len() - 1)?, 20),
        b'G' | b'g' => (s.get(..s.len() - 1)?, 30),
        _ => (s, 0),
    };
    num.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}
