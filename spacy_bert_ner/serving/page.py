"""`GET /`: a page where a person pastes text and sees its entities highlighted, with scores.

The page calls the API itself (`POST /v1/entities` with `"render": true`), so what it shows is
what a client gets; spaCy's displaCy renders each text's entities on the server (`render`), with
each entity's label followed by its score. displaCy colours a label it knows; the labels of the
usual NER schemes that it does not know get colours here, any other its default grey.
"""
from typing import Any, Dict, List

# displaCy's palette has PERSON, LOC, ORG, ...; CoNLL and UNER say PER and MISC.
EXTRA_COLORS = {"PER": "#aa9cfc", "MISC": "#e4e7d2", "OTH": "#e4e7d2"}


def render(text: str, entities: List[Dict[str, Any]]) -> str:
    """displaCy's entity markup of `text` with `entities` as the API answers them."""
    from spacy import displacy
    from spacy.displacy.render import DEFAULT_LABEL_COLORS

    ents, colors = [], {}
    for ent in entities:
        shown = ent["label"] if ent["score"] is None else f"{ent['label']} {ent['score']:.2f}"
        ents.append({"start": ent["start"], "end": ent["end"], "label": shown})
        color = EXTRA_COLORS.get(ent["label"], DEFAULT_LABEL_COLORS.get(ent["label"]))
        if color:
            colors[shown.upper()] = color
    return displacy.render({"text": text, "ents": ents, "title": None}, style="ent", manual=True,
                           options={"colors": colors}, jupyter=False)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Entities</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }
textarea { width: 100%; height: 10em; font-size: 1em; }
#error { color: #b00; }
table { border-collapse: collapse; margin-top: 1em; }
td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
</style>
</head>
<body>
<h1>Entities</h1>
<form id="form">
<textarea id="text" name="text" placeholder="Paste text here"></textarea>
<p><label>Leave out entities scored below <input id="min_score" type="number" min="0" max="1" step="0.05"
 value="0"></label> <button id="find" type="submit">Find entities</button></p>
</form>
<p id="error"></p>
<div id="rendered"></div>
<table id="entities"></table>
<script>
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("error"), rendered = document.getElementById("rendered");
  const table = document.getElementById("entities");
  error.textContent = ""; rendered.innerHTML = ""; table.innerHTML = "";
  const body = {text: document.getElementById("text").value, render: true};
  const minScore = parseFloat(document.getElementById("min_score").value);
  if (minScore > 0) body.min_score = minScore;
  const answer = await fetch("v1/entities", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(body)});
  const data = await answer.json();
  if (!answer.ok) { error.textContent = answer.status + ": " + data.error; return; }
  const result = data.results[0];
  rendered.innerHTML = result.html;
  const head = table.insertRow();
  for (const name of ["text", "label", "start", "end", "score"]) {
    const cell = document.createElement("th"); cell.textContent = name; head.appendChild(cell);
  }
  for (const ent of result.entities) {
    const row = table.insertRow(); row.className = "entity";
    for (const value of [ent.text, ent.label, ent.start, ent.end,
                         ent.score === null ? "" : ent.score.toFixed(3)]) {
      row.insertCell().textContent = value;
    }
  }
});
</script>
</body>
</html>
"""
