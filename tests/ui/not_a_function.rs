// The attribute goes on an `async fn`.

#[sim::test]
struct Reply;

fn main() {}
