// The harness calls the function with no type arguments.

#[sim::test]
async fn typed<T: Default>() {
    let _ = T::default();
}

#[sim::test]
async fn bounded()
where
    u8: Copy,
{
}

fn main() {}
