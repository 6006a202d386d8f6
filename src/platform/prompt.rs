//! ebcli's interactive prompts, with its wording: numbered lists ("(default is 3): "), free
//! text with a default, yes/no and "type the name to confirm". Questions go to stdout, answers
//! come from stdin one line each; end of input is an error, never an endless loop.

use std::io::{BufRead, Write};

use anyhow::{bail, Result};

/// Where prompts read their answers and write their questions.
pub(crate) struct Prompter<'a> {
    input: Box<dyn BufRead + 'a>,
    output: Box<dyn Write + 'a>,
}

impl Prompter<'static> {
    /// The process's stdin and stdout.
    pub(crate) fn stdio() -> Prompter<'static> {
        Prompter {
            input: Box::new(std::io::BufReader::new(std::io::stdin())),
            output: Box::new(std::io::stdout()),
        }
    }
}

#[cfg(test)]
impl<'a> Prompter<'a> {
    pub(crate) fn new(input: impl BufRead + 'a, output: impl Write + 'a) -> Prompter<'a> {
        Prompter {
            input: Box::new(input),
            output: Box::new(output),
        }
    }
}

impl Prompter<'_> {
    /// A line of output (ebcli's `io.echo`).
    pub(crate) fn echo(&mut self, text: &str) {
        let _ = writeln!(self.output, "{text}");
        let _ = self.output.flush();
    }

    /// `<question>: ` and the trimmed answer (ebcli's `io.get_input`).
    pub(crate) fn input(&mut self, question: &str) -> Result<String> {
        let _ = write!(self.output, "{question}: ");
        let _ = self.output.flush();
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            bail!("no answer to {question:?} on standard input");
        }
        Ok(line.trim().to_string())
    }

    /// `(<hint>): `, the default when the answer is empty (ebcli's `io.prompt`).
    pub(crate) fn ask(&mut self, hint: &str, default: &str) -> Result<String> {
        let answer = self.input(&format!("({hint})"))?;
        Ok(if answer.is_empty() {
            default.to_string()
        } else {
            answer
        })
    }

    /// A numbered list and the 0-based index chosen; `default` is 1-based like ebcli's
    /// `utils.prompt_for_index_in_list`.
    pub(crate) fn pick(&mut self, items: &[String], default: Option<usize>) -> Result<usize> {
        for (i, item) in items.iter().enumerate() {
            self.echo(&format!("{}) {item}", i + 1));
        }
        let hint = match default {
            Some(d) => format!("default is {d}"),
            None => "make a selection".to_string(),
        };
        loop {
            let answer = self.ask(&hint, &default.map(|d| d.to_string()).unwrap_or_default())?;
            match answer.parse::<usize>() {
                Ok(n) if (1..=items.len()).contains(&n) => {
                    self.echo("");
                    return Ok(n - 1);
                }
                _ => self.echo(&format!(
                    "Sorry, that is not a valid choice. Please choose a number between 1 and {}.",
                    items.len()
                )),
            }
        }
    }

    /// `<text> (Y/n): ` (or just `(Y/n): `) until y, yes, n or no (ebcli's
    /// `io.get_boolean_response`).
    pub(crate) fn yes_no(&mut self, text: &str, default: bool) -> Result<bool> {
        let options = if default { "(Y/n)" } else { "(y/N)" };
        let mut question = if text.is_empty() {
            options.to_string()
        } else {
            format!("{text} {options}")
        };
        loop {
            let answer = self.input(&question)?.to_lowercase();
            match answer.as_str() {
                "" => return Ok(default),
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => {
                    self.echo("You did not provide a valid value. Type either \"Y\" or \"N\".");
                    question = options.to_string();
                }
            }
        }
    }

    /// `<text>: ` and an error unless the answer is `expected` (ebcli's `io.validate_action`).
    pub(crate) fn confirm(&mut self, text: &str, expected: &str) -> Result<()> {
        if self.input(text)? != expected {
            bail!("Names do not match. Exiting.");
        }
        Ok(())
    }

    /// A name not in `taken`, `default` when the answer is empty (ebcli's
    /// `io.prompt_for_unique_name`).
    pub(crate) fn unique_name(&mut self, default: &str, taken: &[String]) -> Result<String> {
        loop {
            let name = self.ask(&format!("default is \"{default}\""), default)?;
            if taken.contains(&name) {
                self.echo("Sorry that name already exists, try another.");
            } else {
                return Ok(name);
            }
        }
    }
}

/// `name`, else `name2`, `name3`, … whichever is not taken (ebcli's `utils.get_unique_name`).
pub(crate) fn unique(name: &str, taken: &[String]) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(input: &str, f: impl FnOnce(&mut Prompter) -> Result<T>) -> (Result<T>, String) {
        let mut out = Vec::new();
        let r = {
            let mut p = Prompter::new(input.as_bytes(), &mut out);
            f(&mut p)
        };
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn lists_take_numbers_and_defaults() {
        let items = vec!["a".to_string(), "b".to_string()];
        let (r, out) = run("7\nx\n2\n", |p| p.pick(&items, Some(1)));
        assert_eq!(r.unwrap(), 1);
        assert_eq!(out, "1) a\n2) b\n(default is 1): Sorry, that is not a valid choice. Please choose a number between 1 and 2.\n(default is 1): Sorry, that is not a valid choice. Please choose a number between 1 and 2.\n(default is 1): \n");
        assert_eq!(run("\n", |p| p.pick(&items, Some(2))).0.unwrap(), 1);
        assert!(
            run("", |p| p.pick(&items, None)).0.is_err(),
            "end of input is an error"
        );
    }

    #[test]
    fn yes_no_confirm_and_names() {
        let (r, out) = run("maybe\nn\n", |p| p.yes_no("SSH?", true));
        assert!(!r.unwrap());
        assert_eq!(
            out,
            "SSH? (Y/n): You did not provide a valid value. Type either \"Y\" or \"N\".\n(Y/n): "
        );
        assert!(run("\n", |p| p.yes_no("SSH?", true)).0.unwrap());
        assert_eq!(
            run("arn:x\n", |p| p
                .confirm("To confirm, type the platform arn", "arn:y"))
            .0
            .unwrap_err()
            .to_string(),
            "Names do not match. Exiting."
        );
        let taken = vec!["p".to_string()];
        assert_eq!(unique("p", &taken), "p2");
        let (r, out) = run("p\n\n", |p| p.unique_name("p2", &taken));
        assert_eq!(r.unwrap(), "p2");
        assert!(
            out.contains("Sorry that name already exists, try another."),
            "{out}"
        );
    }
}
