//! `CallEventDispatcher`: the setup guide's `CallWebhookManager`, done properly. Events arrive at least once and in any
//! order; it drops repeated ids and updates older than the last applied for the same call, then calls the
//! handlers for the event's type and, in browsers, fires the setup guide's `callStatusChanged` CustomEvent.

use std::cell::RefCell;

use js_sys::{Function, Map, Object, Reflect, Set};
use wasm_bindgen::prelude::*;

use super::type_error;
use super::verify::verify_webhook;
use crate::frontend::dispatch::{decide, Decision, Memory, Position, REMEMBERED_IDS};
use crate::protocol::event::CallStatus;
use crate::protocol::signature::MAX_TIMESTAMP_SECS;

/// The dispatcher's memory in JavaScript's own collections. A `Set` iterates in insertion order, so its first
/// id is the oldest. A call's position is one number, `timestamp * 8 + rank`: exact while the timestamp is
/// below 2^49 seconds, to which the dispatcher clamps it.
struct JsMemory {
    ids: Set,
    calls: Map,
}

impl Memory for JsMemory {
    fn seen(&self, id: &str) -> bool {
        self.ids.has(&id.into())
    }

    fn remember(&mut self, id: &str) {
        if self.ids.size() as usize >= REMEMBERED_IDS {
            if let Ok(oldest) = self.ids.values().next() {
                self.ids.delete(&oldest.value());
            }
        }
        self.ids.add(&id.into());
    }

    fn position(&self, call_id: &str) -> Option<Position> {
        let packed = self.calls.get(&call_id.into()).as_f64()?;
        let rank = packed.rem_euclid(8.0);
        Some((((packed - rank) / 8.0) as i64, rank as u8))
    }

    fn set_position(&mut self, call_id: &str, (timestamp, rank): Position) {
        let packed = timestamp as f64 * 8.0 + f64::from(rank);
        self.calls.set(&call_id.into(), &packed.into());
    }
}

/// Verifies (optionally), deduplicates, orders and dispatches call events.
#[wasm_bindgen]
pub struct CallEventDispatcher {
    secret_key: JsValue,
    tolerance: JsValue,
    target: JsValue,
    event_name: String,
    handlers: RefCell<Vec<(String, Function)>>,
    memory: RefCell<JsMemory>,
}

fn text(value: &JsValue, key: &str) -> Option<String> {
    Reflect::get(value, &key.into()).ok().and_then(|v| v.as_string())
}

#[wasm_bindgen]
impl CallEventDispatcher {
    /// `new CallEventDispatcher({ secretKey, target, eventName, toleranceSeconds })`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "DispatcherOptions")] options: Option<Object>,
    ) -> Result<CallEventDispatcher, JsValue> {
        let get = |key: &str| {
            options
                .as_ref()
                .map_or(Ok(JsValue::UNDEFINED), |o| Reflect::get(o, &key.into()))
        };
        let event_name = get("eventName")?;
        let event_name = if event_name.is_undefined() {
            "callStatusChanged".to_owned()
        } else {
            event_name
                .as_string()
                .ok_or_else(|| type_error("eventName must be a string"))?
        };
        let target = get("target")?;
        if !target.is_undefined()
            && Reflect::get(&target, &"dispatchEvent".into())?
                .dyn_ref::<Function>()
                .is_none()
        {
            return Err(type_error("target must be an EventTarget, such as window"));
        }
        Ok(CallEventDispatcher {
            secret_key: get("secretKey")?,
            tolerance: get("toleranceSeconds")?,
            target,
            event_name,
            handlers: RefCell::new(Vec::new()),
            memory: RefCell::new(JsMemory {
                ids: Set::new(&JsValue::UNDEFINED),
                calls: Map::new(),
            }),
        })
    }

    /// Calls `handler` for every dispatched event of `type` (an event type, or `"*"` for all).
    pub fn on(
        &self,
        #[wasm_bindgen(js_name = type, unchecked_param_type = "CallEventType | \"*\"")] event_type: String,
        #[wasm_bindgen(unchecked_param_type = "CallEventHandler")] handler: Function,
    ) {
        self.handlers.borrow_mut().push((event_type, handler));
    }

    /// Removes a handler added with `on`.
    pub fn off(
        &self,
        #[wasm_bindgen(js_name = type, unchecked_param_type = "CallEventType | \"*\"")] event_type: String,
        #[wasm_bindgen(unchecked_param_type = "CallEventHandler")] handler: Function,
    ) {
        self.handlers
            .borrow_mut()
            .retain(|(t, h)| !(t == &event_type && Object::is(h, &handler)));
    }

    /// Verifies a delivery with the dispatcher's `secretKey` (throwing a `WebhookVerificationError`), then
    /// dispatches it. Returns whether it was dispatched (false for a duplicate or a stale update).
    pub fn receive(
        &self,
        #[wasm_bindgen(js_name = rawBody, unchecked_param_type = "string | Uint8Array | ArrayBuffer")]
        raw_body: JsValue,
        #[wasm_bindgen(unchecked_param_type = "WebhookHeaders")] headers: JsValue,
    ) -> Result<bool, JsValue> {
        if self.secret_key.is_undefined() {
            return Err(type_error(
                "receive() needs the secretKey option; use dispatch() for events verified elsewhere",
            ));
        }
        let options = Object::new();
        if !self.tolerance.is_undefined() {
            Reflect::set(&options, &"toleranceSeconds".into(), &self.tolerance)?;
        }
        let event = verify_webhook(raw_body, headers, self.secret_key.clone(), Some(options))?;
        self.dispatch(event)
    }

    /// Dispatches an already-verified event. Returns whether handlers ran: `false` for an id seen before, or an
    /// update older than the last one applied for its call (deliveries are not ordered).
    pub fn dispatch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WebhookEvent")] event: JsValue,
    ) -> Result<bool, JsValue> {
        let id =
            text(&event, "id").ok_or_else(|| type_error("the event has no id: pass a delivered ringhook event"))?;
        let event_type = text(&event, "event").ok_or_else(|| type_error("the event has no event type"))?;
        let call_id = text(&event, "callId").unwrap_or_default();
        let status_text = text(&event, "status").unwrap_or_default();
        let status = status_text.parse::<CallStatus>().ok();
        // The largest timestamps a position holds exactly; an update without one sorts first.
        let limit = MAX_TIMESTAMP_SECS as f64;
        let timestamp = Reflect::get(&event, &"timestamp".into())?.as_f64().unwrap_or(0.0);
        let timestamp = timestamp.clamp(-limit, limit) as i64;
        let decision = decide(&mut *self.memory.borrow_mut(), &id, &call_id, timestamp, status);
        if decision != Decision::Apply {
            return Ok(false);
        }

        // Handlers run after the borrows end, so a handler may call back into the dispatcher.
        let handlers: Vec<Function> = self
            .handlers
            .borrow()
            .iter()
            .filter(|(t, _)| t == "*" || *t == event_type)
            .map(|(_, h)| h.clone())
            .collect();
        for handler in handlers {
            handler.call1(&JsValue::NULL, &event)?;
        }
        if !self.target.is_undefined() {
            self.fire(&event)?;
        }
        Ok(true)
    }

    /// `target.dispatchEvent(new CustomEvent(eventName, { detail: { event, callId, status, data } }))`.
    fn fire(&self, event: &JsValue) -> Result<(), JsValue> {
        let detail = Object::new();
        for key in ["event", "callId", "status", "data"] {
            Reflect::set(&detail, &key.into(), &Reflect::get(event, &key.into())?)?;
        }
        let init = Object::new();
        Reflect::set(&init, &"detail".into(), &detail)?;
        let constructor: Function = Reflect::get(&js_sys::global(), &"CustomEvent".into())?
            .dyn_into()
            .map_err(|_| type_error("this runtime has no CustomEvent"))?;
        let args = js_sys::Array::of2(&self.event_name.clone().into(), &init);
        let custom = Reflect::construct(&constructor, &args)?;
        let dispatch: Function = Reflect::get(&self.target, &"dispatchEvent".into())?.unchecked_into();
        dispatch.call1(&self.target, &custom)?;
        Ok(())
    }
}
