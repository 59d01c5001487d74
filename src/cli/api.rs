//! `lmi api`'s arguments: the request, its fields and headers, pagination,
//! and where the answer goes.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:\n  \
    lmi api /issues -f title=Bug -F draft=false -f 'labels[]=ui'   (JSON body, POST)\n  \
    lmi api -X GET /search -f q=bug -F per_page=50                  (query string)\n  \
    lmi api /notes -F body=@notes.md                                (a file's content)\n  \
    lmi api graphql -F query=@q.graphql -f owner=ann -F first=10    (GraphQL)\n  \
    lmi api /export --output-file export.tar                        (download)\n  \
    lmi api --paginate /issues --jq '.[] | .title'                  (every page, filtered)\n  \
    lmi api --paginate /items --next .next_cursor --cursor-param cursor   (cursor in the body)")]
pub struct ApiArgs {
    /// HTTP method (default GET, or POST with a body or fields)
    #[arg(short = 'X', long = "method", value_name = "METHOD")]
    pub method: Option<String>,
    /// Path joined to API_BASE_URL, a full URL on an allowed origin, or `graphql` for a GraphQL request to API_GRAPHQL_URL
    pub path: String,
    /// Extra request header (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body from a file, or - for stdin (JSON unless Content-Type says otherwise)
    #[arg(long = "file", value_name = "PATH")]
    pub file: Option<String>,
    /// Print the status line and response headers before the body
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    #[arg(
        short = 'f',
        long = "raw-field",
        value_name = "KEY=VALUE",
        help = "Add a string field (repeatable): query string for GET/HEAD, else JSON body; KEY[sub]= nests, KEY[]= appends"
    )]
    pub raw_fields: Vec<String>,
    /// Add a typed field (repeatable): true, false, null and numbers as JSON, @PATH a file's content, @- stdin
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    pub typed_fields: Vec<String>,
    /// Write the response body to FILE (through a temporary file renamed at the end)
    #[arg(long = "output-file", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output_file: Option<PathBuf>,
    /// Print no response body
    #[arg(long = "silent")]
    pub silent: bool,
    /// Filter the JSON body with a jq program: strings raw, other results compact JSON, one per line (per page with --paginate)
    #[arg(long = "jq", value_name = "EXPR")]
    pub jq: Option<String>,
    /// Fetch every page: Link rel="next", or --next; array pages are merged into one array (GET and lmi api graphql)
    #[arg(long = "paginate")]
    pub paginate: bool,
    /// With --paginate: a jq expression on each page's body giving the next URL or cursor (e.g. .links.next)
    #[arg(long = "next", value_name = "EXPR", requires = "paginate")]
    pub next: Option<String>,
    /// With --next: the query parameter that takes a cursor that is not a URL
    #[arg(long = "cursor-param", value_name = "NAME", requires = "next")]
    pub cursor_param: Option<String>,
    /// With --paginate: wrap all pages in one array (--jq then applies to that array)
    #[arg(long = "slurp", requires = "paginate")]
    pub slurp: bool,
}
