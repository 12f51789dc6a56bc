import type { MedicationConflict } from "../api/registry";

const SOURCE: Record<MedicationConflict["source"], string> = {
  handoff: "allergy written by the crew",
  record: "allergy on the patient's record",
};

/** Medications given against a known allergy: first on the card, in words and not by colour alone. */
export function AllergyConflicts({ conflicts }: { conflicts: MedicationConflict[] | null | undefined }) {
  if (!conflicts?.length) return null;
  return (
    <section className="allergy-conflicts" role="alert" aria-label="Allergy conflicts" data-testid="allergy-conflicts">
      <h4>⚠ Allergy conflict{conflicts.length === 1 ? "" : "s"}</h4>
      <ul className="plain">
        {conflicts.map((c, i) => (
          <li key={i}>
            <strong>{c.medication}</strong> given — {SOURCE[c.source]}: <strong>{c.allergy}</strong>
            {c.severity ? ` (${c.severity})` : ""}
            {c.match === "class" && c.drug_class ? `; same drug class: ${c.drug_class}` : "; same substance"}
          </li>
        ))}
      </ul>
    </section>
  );
}
