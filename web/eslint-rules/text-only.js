/* ESLint rule `emsync/text-only`: user text reaches the DOM only as text, never as HTML.
 *
 * Forbidden outright: `innerHTML`, `outerHTML`, `insertAdjacentHTML`, `document.write(ln)`,
 * `createContextualFragment` and React's `dangerouslySetInnerHTML`.
 *
 * Leaflet renders a *string* given as tooltip, popup or divIcon content as HTML (the stored XSS
 * of issue #14 went through `bindTooltip(label)`), so those calls must be given an element built
 * with `textContent`. With type information the argument's type decides (any string type is
 * refused); without it, string literals and template strings are refused. Attribution text is
 * HTML too: only a constant string literal may be passed.
 */
import ts from "typescript";

const HTML_PROPERTIES = new Set(["innerHTML", "outerHTML"]);
const HTML_METHODS = new Set(["insertAdjacentHTML", "createContextualFragment"]);
const LEAFLET_CONTENT = new Set([
  "bindTooltip",
  "bindPopup",
  "setTooltipContent",
  "setPopupContent",
  "setContent",
  "openTooltip",
  "openPopup",
]);
// Factories whose options object carries HTML in one of these keys.
const LEAFLET_OPTION_KEYS = { divIcon: "html", tooltip: "content", popup: "content" };
const LEAFLET_ATTRIBUTION = new Set(["addAttribution", "setPrefix", "getAttribution"]);

function propertyName(node) {
  if (node.type !== "MemberExpression") return null;
  if (!node.computed && node.property.type === "Identifier") return node.property.name;
  if (node.property.type === "Literal" && typeof node.property.value === "string") {
    return node.property.value;
  }
  return null;
}

function isStringType(type, checker) {
  if (type.isUnion()) return type.types.some((t) => isStringType(t, checker));
  return (type.flags & (ts.TypeFlags.StringLike | ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0;
}

export default {
  meta: {
    type: "problem",
    docs: { description: "user text reaches the DOM as text, never as HTML" },
    schema: [],
    messages: {
      htmlSink: "`{{name}}` parses HTML: build nodes and set `textContent` instead.",
      leafletString:
        "Leaflet renders a string given to `{{name}}` as HTML: pass an element whose text is set " +
        "with `textContent` (see textLabel in components/MapView.tsx).",
      attribution: "`{{name}}` renders HTML: pass a constant string literal only.",
    },
  },
  create(context) {
    const services = context.sourceCode.parserServices;
    const typed = Boolean(services?.program && services.esTreeNodeToTSNodeMap);
    const checker = typed ? services.program.getTypeChecker() : null;

    function carriesString(node) {
      if (!node) return false;
      if (node.type === "Literal" && typeof node.value === "string") return true;
      if (node.type === "TemplateLiteral") return true;
      if (!typed) return false;
      const tsNode = services.esTreeNodeToTSNodeMap.get(node);
      const type = checker.getTypeAtLocation(tsNode);
      // A function argument (Leaflet's content callback) counts by what it returns.
      const signatures = type.getCallSignatures();
      if (signatures.length > 0) {
        return signatures.some((s) => isStringType(s.getReturnType(), checker));
      }
      return isStringType(type, checker);
    }

    return {
      MemberExpression(node) {
        const name = propertyName(node);
        if (name && HTML_PROPERTIES.has(name)) {
          context.report({ node, messageId: "htmlSink", data: { name } });
        }
      },
      CallExpression(node) {
        const name = propertyName(node.callee);
        if (!name) return;
        if (HTML_METHODS.has(name)) {
          context.report({ node, messageId: "htmlSink", data: { name } });
          return;
        }
        if (
          (name === "write" || name === "writeln") &&
          node.callee.object.type === "Identifier" &&
          node.callee.object.name === "document"
        ) {
          context.report({ node, messageId: "htmlSink", data: { name: `document.${name}` } });
          return;
        }
        if (LEAFLET_CONTENT.has(name) && carriesString(node.arguments[0])) {
          context.report({ node, messageId: "leafletString", data: { name } });
          return;
        }
        if (LEAFLET_ATTRIBUTION.has(name)) {
          const arg = node.arguments[0];
          if (arg && !(arg.type === "Literal" && typeof arg.value === "string")) {
            context.report({ node, messageId: "attribution", data: { name } });
          }
          return;
        }
        const key = Object.hasOwn(LEAFLET_OPTION_KEYS, name) ? LEAFLET_OPTION_KEYS[name] : null;
        const options = node.arguments.find((a) => a.type === "ObjectExpression");
        if (key && options) {
          for (const prop of options.properties) {
            if (
              prop.type === "Property" &&
              !prop.computed &&
              prop.key.type === "Identifier" &&
              prop.key.name === key &&
              carriesString(prop.value)
            ) {
              context.report({ node: prop, messageId: "leafletString", data: { name } });
            }
          }
        }
      },
      JSXAttribute(node) {
        if (node.name.type === "JSXIdentifier" && node.name.name === "dangerouslySetInnerHTML") {
          context.report({ node, messageId: "htmlSink", data: { name: "dangerouslySetInnerHTML" } });
        }
      },
    };
  },
};
