import { useEffect, useId, useRef, useState } from "react";
import { endpoints } from "../api/endpoints";
import type { GeocodeHitRead } from "../api/types";
import { useApp } from "../app/context";

const KIND_LABEL: Record<GeocodeHitRead["kind"], string> = {
  address: "address",
  street: "street",
  poi: "place",
  locality: "locality",
  intersection: "crossing",
};
const DEBOUNCE_MS = 120;

interface Props {
  value: string;
  onChange: (text: string) => void;
  /** A suggestion was chosen: its position becomes the incident's (the typed text is kept). */
  onPick: (hit: GeocodeHitRead) => void;
  near?: { lat: number; lon: number } | null;
}

/** The address box of the incident form: suggestions from the loaded map as the dispatcher
 * types (typos and abbreviations forgiven), an ARIA combobox driven by arrows, Enter, Escape. */
export function AddressSearch({ value, onChange, onPick, near }: Props) {
  const { api } = useApp();
  const [hits, setHits] = useState<GeocodeHitRead[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [failed, setFailed] = useState(false);
  const asked = useRef(0);
  const listId = useId();

  useEffect(() => {
    const text = value.trim();
    if (text.length < 3) {
      setHits([]);
      return;
    }
    const ticket = ++asked.current;
    const timer = window.setTimeout(() => {
      endpoints
        .geocode(api, value, near)
        .then((found) => {
          if (ticket !== asked.current) return; // an older keystroke's answer
          setHits(found);
          setActive(found.length ? 0 : -1);
          setFailed(false);
        })
        .catch(() => {
          if (ticket === asked.current) setFailed(true);
        });
    }, DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [api, value, near]);

  function pick(hit: GeocodeHitRead) {
    onPick(hit);
    setOpen(false);
  }

  function onKeyDown(e: React.KeyboardEvent<HTMLInputElement>) {
    if (!open || hits.length === 0) return;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setActive((a) => (a + 1) % hits.length);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => (a <= 0 ? hits.length - 1 : a - 1));
    } else if (e.key === "Enter" && hits[active]) {
      e.preventDefault(); // choose the suggestion, do not submit the form yet
      pick(hits[active]);
    } else if (e.key === "Escape") {
      setOpen(false);
    }
  }

  const shown = open && hits.length > 0;
  return (
    <div className="address-search">
      <input
        name="address"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={shown}
        aria-controls={listId}
        aria-activedescendant={shown && active >= 0 ? `${listId}-${active}` : undefined}
        autoComplete="off"
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
          setOpen(true);
        }}
        onKeyDown={onKeyDown}
        onFocus={() => setOpen(true)}
        onBlur={() => window.setTimeout(() => setOpen(false), 150)}
        placeholder="Street and number, a place, or Street A & Street B"
      />
      {failed && <span className="muted">Address search is not available; give coordinates.</span>}
      <ul id={listId} role="listbox" className="suggestions" hidden={!shown} aria-label="Addresses found">
        {hits.map((h, i) => (
          <li
            key={`${h.label}-${h.lat}-${h.lon}`}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === active}
            className={i === active ? "active" : undefined}
            onMouseDown={(e) => {
              e.preventDefault(); // keep focus: the blur would close the list first
              pick(h);
            }}
            data-testid="address-suggestion"
          >
            <span className="suggestion-label">{h.label}</span>{" "}
            <span className="muted">
              {KIND_LABEL[h.kind]}
              {h.interpolated ? ", number placed along the street" : ""}
              {h.category && h.kind === "poi" ? `, ${h.category.replace(/_/g, " ")}` : ""}
            </span>
            {h.note && <span className="suggestion-note">{h.note}</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}
