//! The dashboard on its own, before (or without) `meshctl tui dashboard`:
//!
//! ```sh
//! cargo run -p mesh-tui --example dashboard -- 127.0.0.1:15014 [topology|services|...]
//! ```

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:15014".into());
    let mut opts = mesh_tui::DashboardOptions::new(
        address
            .parse()
            .with_context(|| format!("{address:?} is not an address like 127.0.0.1:15014"))?,
    );
    if let Some(view) = args.next() {
        opts.view = view.parse().map_err(anyhow::Error::msg)?;
    }
    mesh_tui::run(opts).await?;
    Ok(())
}
