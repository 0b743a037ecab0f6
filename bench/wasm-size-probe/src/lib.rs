//! One export per library measured, each over wasm-bindgen and the core (with std), linked in from `ringhook`.
pub use ringhook;

/// A frame from the stream, as the core describes it.
#[cfg(any(feature = "gloo", feature = "swb", feature = "json"))]
#[derive(serde::Deserialize, serde::Serialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    cursor: Option<u64>,
    event: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The stream client's loop with gloo: open the socket, read frames until it closes, wait the core's backoff,
/// and open it again; returns how many frames arrived.
#[cfg(feature = "gloo")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub async fn probe_stream(url: String, rounds: u32) -> Result<u32, wasm_bindgen::JsValue> {
    use futures_util::StreamExt;
    use gloo_net::websocket::{futures::WebSocket, Message};
    let mut frames = 0;
    for attempt in 0..rounds {
        let mut socket = WebSocket::open(&url).map_err(|e| wasm_bindgen::JsValue::from_str(&e.to_string()))?;
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            if serde_json::from_str::<Frame>(&text).is_ok() {
                frames += 1;
            }
        }
        let delay = ringhook::frontend::reconnect_delay_ms(attempt, 0.5);
        gloo_timers::future::TimeoutFuture::new(delay as u32).await;
    }
    Ok(frames)
}

/// A frame handed to JavaScript as a plain object with serde-wasm-bindgen.
#[cfg(feature = "swb")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn probe_frame(text: &str) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue> {
    let frame: Frame = serde_json::from_str(text).map_err(|e| wasm_bindgen::JsValue::from_str(&e.to_string()))?;
    serde_wasm_bindgen::to_value(&frame).map_err(Into::into)
}

/// A frame parsed in Rust and handed back as JSON text, the baseline of the two above.
#[cfg(feature = "json")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn probe_frame_json(text: &str) -> Result<String, wasm_bindgen::JsValue> {
    let frame: Frame = serde_json::from_str(text).map_err(|e| wasm_bindgen::JsValue::from_str(&e.to_string()))?;
    serde_json::to_string(&frame).map_err(|e| wasm_bindgen::JsValue::from_str(&e.to_string()))
}
