import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";
import textOnly from "./eslint-rules/text-only.js";

export default tseslint.config(
  { ignores: ["node_modules", "src/api/schema.d.ts", "openapi.json"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: {
        projectService: { allowDefaultProject: ["vite.config.ts", "eslint.config.js", "eslint-rules/*.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "react-hooks": reactHooks, emsync: { rules: { "text-only": textOnly } } },
    rules: {
      // User text reaches the DOM as text only (issue #14: a Leaflet string tooltip was XSS).
      "emsync/text-only": "error",
      ...reactHooks.configs.recommended.rules,
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-confusing-void-expression": "off",
      // Views load data in effects and set state when it arrives; this React Compiler rule
      // flags that standard pattern (the setState happens after an await, not synchronously).
      "react-hooks/set-state-in-effect": "off",
    },
  },
  {
    files: ["eslint.config.js", "eslint-rules/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { ...globals.node } },
  },
  // The service worker (app-shell cache, Web Push) is typed against its own tsconfig.
  {
    files: ["src/sw.ts"],
    languageOptions: {
      globals: { ...globals.serviceworker },
      parserOptions: { projectService: false, project: "./tsconfig.sw.json", tsconfigRootDir: import.meta.dirname },
    },
  },
);
