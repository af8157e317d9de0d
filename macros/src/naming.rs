//! The base name of a task's worker: `print_numbers` for a path, `worker` for
//! `worker(i)`, the method for `x.method()`, `task` otherwise.

use syn::Expr;

pub fn base_name(task: &Expr) -> String {
    match task {
        Expr::Path(path) => last_segment(&path.path),
        Expr::Call(call) => match &*call.func {
            Expr::Path(path) => last_segment(&path.path),
            _ => "task".to_owned(),
        },
        Expr::MethodCall(call) => call.method.to_string(),
        // `worker(i).await` inside a gather loop, `(task)`, `&job`.
        Expr::Await(inner) => base_name(&inner.base),
        Expr::Paren(inner) => base_name(&inner.expr),
        Expr::Group(inner) => base_name(&inner.expr),
        Expr::Reference(inner) => base_name(&inner.expr),
        _ => "task".to_owned(),
    }
}

fn last_segment(path: &syn::Path) -> String {
    path.segments
        .last()
        .map(|s| s.ident.to_string())
        .map(|s| s.trim_start_matches("r#").to_owned())
        .unwrap_or_else(|| "task".to_owned())
}

#[cfg(test)]
mod tests {
    use super::base_name;

    fn name(src: &str) -> String {
        base_name(&syn::parse_str(src).unwrap())
    }

    #[test]
    fn names_follow_the_task() {
        assert_eq!(name("print_numbers"), "print_numbers");
        assert_eq!(name("jobs::PrintNumbers"), "PrintNumbers");
        assert_eq!(name("worker(i)"), "worker");
        assert_eq!(name("crate::io::fetch(&client, url)"), "fetch");
        assert_eq!(name("client.get(url)"), "get");
        assert_eq!(name("|| 1"), "task");
        assert_eq!(name("{ 1 + 2 }"), "task");
        assert_eq!(name("data[k] * w"), "task");
    }
}
