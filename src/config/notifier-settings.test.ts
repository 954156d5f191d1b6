// The notifiers' settings (./notifier-settings.ts): names, each notifier's own schema, defaults.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { load, refused } from "./__fixtures__/load-config.ts";

describe("loadConfig: notifiers", () => {
  test("an unknown notifier is an error at its name, with did-you-mean", async () => {
    const yaml = "default_notifiers:\n  - stdout\n  - webhok\nnotifiers:\n  webhok:\n    url: https://x.example\n";
    assert.deepEqual(await refused(yaml), [
      [3, 5, "ERR_PLUGIN_UNKNOWN", 'unknown notifier "webhok" (did you mean "webhook"?)'],
      [5, 3, "ERR_PLUGIN_UNKNOWN", 'unknown notifier "webhok" (did you mean "webhook"?)'],
    ]);
  });

  test("settings are validated with the notifier's own schema", async () => {
    const yaml = [
      "notifiers:",
      "  webhook:",
      "    url: not a url",
      "    urll: https://x.example",
      "    http_method: PATCH",
      "    custom_headers: 3",
      "",
    ].join("\n");
    assert.deepEqual(await refused(yaml), [
      [3, 10, "ERR_PARAMS_INVALID", "notifiers.webhook.url: Invalid URL"],
      [4, 5, "ERR_PARAMS_INVALID", 'unknown setting "notifiers.webhook.urll" of notifier "webhook" (did you mean "url"?)'],
      [5, 18, "ERR_PARAMS_INVALID", 'notifiers.webhook.http_method: Invalid option: expected one of "POST"|"PUT"|"GET"'],
      [6, 21, "ERR_PARAMS_INVALID", "notifiers.webhook.custom_headers: Invalid input: expected record, received number"],
    ]);
  });

  test("valid settings get the notifier's defaults; a null value means {}", async () => {
    const yaml = 'notifiers:\n  stdout:\n  webhook:\n    URL: https://x.example\n    http_method: PUT\n    user_agent: ""\n';
    const { config, diagnostics } = await load(yaml);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(config?.notifiers["stdout"], { format: "json" });
    assert.deepEqual(config?.notifiers["webhook"], {
      url: "https://x.example",
      http_method: "PUT",
      content_type: "application/json; charset=utf-8",
      user_agent: "falco-talon",
      custom_headers: {},
    });
    assert.ok(Object.isFrozen(config?.notifiers["webhook"]));
  });

  test("a default notifier missing a required setting is an error", async () => {
    const inFile = await load("default_notifiers: [webhook]\nnotifiers:\n  webhook:\n    http_method: PUT\n");
    assert.equal(inFile.config, undefined);
    assert.deepEqual(
      inFile.diagnostics.map((d) => [d.line, d.column, d.severity, d.message]),
      [[4, 5, "error", "notifiers.webhook.url: Invalid input: expected string, received undefined"]],
    );

    assert.deepEqual(await refused("default_notifiers:\n  - webhook\n"), [
      [2, 5, "ERR_PARAMS_INVALID", 'notifier "webhook" has no settings: notifiers.webhook needs "url"'],
    ]);
  });
});
