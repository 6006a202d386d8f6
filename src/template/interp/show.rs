//! A parsed template printed back as Go's `parse` package prints it (the `String` methods of its
//! nodes), which error messages quote (`executing "root" at <env `HOME`>`).

use std::fmt;

use super::parse::{Arg, ArgKind, Cmd, Node, Pipe};

impl fmt::Display for Arg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Bool(b) => write!(f, "{b}"),
            ArgKind::Number(n) => f.write_str(n.text),
            ArgKind::Str(_, quoted) => f.write_str(quoted),
            ArgKind::Field(fields) => {
                for x in fields {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            ArgKind::Variable(v, fields) => {
                f.write_str(v)?;
                for x in fields {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            ArgKind::Ident(_, name) => f.write_str(name),
            ArgKind::Pipe(p) => write!(f, "({p})"),
            ArgKind::Chain(node, fields) => {
                write!(f, "{node}")?;
                for x in fields {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Cmd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, b) = match self {
            Node::Text(t) => return f.write_str(t),
            Node::Action(p) => return write!(f, "{{{{{p}}}}}"),
            Node::Break => return f.write_str("{{break}}"),
            Node::Continue => return f.write_str("{{continue}}"),
            Node::If(b) => ("if", b),
            Node::Range(b) => ("range", b),
            Node::With(b) => ("with", b),
        };
        write!(f, "{{{{{name} {}}}}}", b.pipe)?;
        for n in &b.list {
            write!(f, "{n}")?;
        }
        if let Some(e) = &b.else_list {
            f.write_str("{{else}}")?;
            for n in e {
                write!(f, "{n}")?;
            }
        }
        f.write_str("{{end}}")
    }
}
