// Renders the server's OpenAPI description as a page: every path, method, parameter and response.
"use strict";

function element(tag, text, attributes = {}) {
  const el = document.createElement(tag);
  if (text) el.textContent = text;
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
  return el;
}

fetch("/openapi.json").then((response) => response.json()).then((spec) => {
  const root = document.getElementById("api");
  root.replaceChildren(element("h2", `${spec.info.title} ${spec.info.version}`));
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const item = element("div", "", { class: "item" });
      item.append(element("h3", `${method.toUpperCase()} ${path}`));
      if (operation.description || operation.summary) item.append(element("p", operation.description || operation.summary));
      const parameters = operation.parameters || [];
      if (parameters.length) {
        const table = element("table");
        table.append(...parameters.map((p) => {
          const row = element("tr");
          row.append(element("td", p.name), element("td", p.in), element("td", p.required ? "required" : "optional"),
            element("td", (p.schema && (p.schema.type || "")) + (p.schema && p.schema.default !== undefined ? ` = ${JSON.stringify(p.schema.default)}` : "")));
          return row;
        }));
        item.append(table);
      }
      item.append(element("p", `responses: ${Object.keys(operation.responses || {}).join(", ")}`));
      root.append(item);
    }
  }
}).catch((error) => { document.getElementById("api").textContent = `Cannot read /openapi.json: ${error}`; });
