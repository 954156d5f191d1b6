// The notifiers' settings: `default_notifiers` names registered notifiers, and each `notifiers.<name>` is
// validated with that notifier's own schema plus the delivery filters every notifier takes (./delivery.ts).
// A default notifier with no `notifiers.<name>` entry gets its schema's defaults, when it has them.
import type { Registries } from "../plugins/registry.ts";
import type { Notifier } from "../plugins/types.ts";
import { didYouMean, type Position, valueAt, type YamlPath } from "../yaml/source.ts";
import type { ConfigProblems } from "./config-problems.ts";
import { DELIVERY_KEYS, deliverySettings } from "./delivery.ts";
import { splitList } from "./schema.ts";
import { isPlainObject, type Obj, pathText } from "./shape.ts";

/** The settings of every usable notifier, by name; `raw` is the normalised document with env applied. */
export function notifierSettings(raw: Obj, registries: Registries, problems: ConfigProblems): Record<string, Obj> {
  const check = new NotifierCheck(registries, problems);
  const defaults = check.defaultNotifiers(raw["default_notifiers"], raw["notifiers"]);
  const notifiers = check.configured(raw["notifiers"], defaults.names);
  for (const name of defaults.names) {
    const settings = defaults.settings.get(name);
    if (notifiers[name] === undefined && settings !== undefined) notifiers[name] = settings;
  }
  return notifiers;
}

interface DefaultNotifiers {
  /** The registered names of `default_notifiers`. */
  readonly names: Set<string>;
  /** The default settings of those that have no `notifiers.<name>` entry. */
  readonly settings: Map<string, Obj>;
}

class NotifierCheck {
  readonly #registries: Registries;
  readonly #problems: ConfigProblems;

  constructor(registries: Registries, problems: ConfigProblems) {
    this.#registries = registries;
    this.#problems = problems;
  }

  defaultNotifiers(value: unknown, configured: unknown): DefaultNotifiers {
    const names = new Set<string>();
    const settings = new Map<string, Obj>();
    for (const [name, path] of defaultNotifierItems(value)) {
      const notifier = this.#registries.notifiers.get(name);
      if (notifier === undefined) {
        this.#unknownNotifier(this.#problems.where(path), name);
        continue;
      }
      names.add(name);
      if ((isPlainObject(configured) && Object.hasOwn(configured, name)) || settings.has(name)) continue;
      const defaults = this.#defaultSettings(notifier, name, path);
      if (defaults !== undefined) settings.set(name, defaults);
    }
    return { names, settings };
  }

  /** A notifier's settings when nothing sets them: its schema's defaults, or an error naming what it needs. */
  #defaultSettings(notifier: Notifier, name: string, path: YamlPath): Obj | undefined {
    const parsed = notifier.params.safeParse({});
    if (parsed.success) return parsed.data as Obj;
    const missing = parsed.error.issues.map((i) => `"${pathText(i.path)}"`).join(", ");
    const message = `notifier "${name}" has no settings: notifiers.${name} needs ${missing}`;
    this.#problems.error(this.#problems.where(path), message, "ERR_PARAMS_INVALID");
    return undefined;
  }

  configured(value: unknown, defaultNames: ReadonlySet<string>): Record<string, Obj> {
    const out: Record<string, Obj> = {};
    if (!isPlainObject(value)) return out;
    for (const [name, settings] of Object.entries(value)) {
      const notifier = this.#registries.notifiers.get(name);
      if (notifier === undefined) {
        this.#unknownNotifier(this.#problems.whereKey(["notifiers", name]), this.#problems.writtenNotifier(name));
        continue;
      }
      if (!isPlainObject(settings)) continue; // the schema reports the wrong type
      const parsed = this.#parseSettings(notifier, name, settings, defaultNames.has(name));
      if (parsed !== undefined) out[name] = parsed;
    }
    return out;
  }

  /** Validates one notifier's settings with its own schema. A notifier whose only problem is a missing
   * required setting is left out with a warning when no default_notifiers entry needs it (Talon only
   * checks a notifier when it is used); rules that name it fail their own check. */
  #parseSettings(notifier: Notifier, name: string, settings: Obj, required: boolean): Obj | undefined {
    const at: YamlPath = ["notifiers", name];
    const { input, delivery, unknown } = this.#splitSettings(notifier, name, settings);
    const filters = deliverySettings.safeParse(delivery);
    if (!filters.success) this.#problems.reportIssues(filters.error.issues, at, "ERR_PARAMS_INVALID");
    const parsed = notifier.params.safeParse(input);
    // The common filters (min_priority, on_status) travel with the notifier's own settings.
    if (parsed.success) return unknown || !filters.success ? undefined : { ...(parsed.data as Obj), ...filters.data };
    const missing = parsed.error.issues.filter((i) => i.code === "invalid_type" && valueAt(input, i.path) === undefined);
    if (!required && missing.length === parsed.error.issues.length) {
      const list = missing.map((i) => `"${pathText(i.path)}"`).join(", ");
      this.#problems.warn(
        this.#problems.whereKey(at),
        `notifier "${name}" cannot be used: it needs ${list} (no default_notifiers entry uses it; rules that name it skip it, with a warning, unless unconfigured_notifiers is "error")`,
      );
      return undefined;
    }
    this.#problems.reportIssues(parsed.error.issues, at, "ERR_PARAMS_INVALID");
    return undefined;
  }

  /** The notifier's own settings and the delivery filters apart; any other key is an error. */
  #splitSettings(notifier: Notifier, name: string, settings: Obj): { input: Obj; delivery: Obj; unknown: boolean } {
    const known = Object.keys(notifier.params.shape);
    const input: Obj = {};
    const delivery: Obj = {};
    let unknown = false;
    for (const [key, v] of Object.entries(settings)) {
      if (known.includes(key)) input[key] = v;
      else if (DELIVERY_KEYS.includes(key)) delivery[key] = v;
      else {
        unknown = true;
        const path = ["notifiers", name, key];
        const message = `unknown setting "${this.#problems.writtenKey(path)}" of notifier "${name}"${didYouMean(key, known)}`;
        this.#problems.error(this.#problems.whereKey(path), message, "ERR_PARAMS_INVALID");
      }
    }
    return { input, delivery, unknown };
  }

  #unknownNotifier(at: Position, name: string): void {
    const message = `unknown notifier "${name}"${didYouMean(name.toLowerCase(), this.#registries.notifiers.ids())}`;
    this.#problems.error(at, message, "ERR_PLUGIN_UNKNOWN");
  }
}

/** The names of `default_notifiers` (a list, or a comma-separated string from env), each with its path. */
function defaultNotifierItems(value: unknown): [string, YamlPath][] {
  const items: [string, YamlPath][] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (typeof v === "string") items.push([v, ["default_notifiers", i]]);
    });
  } else if (typeof value === "string") {
    for (const v of splitList(value)) items.push([v, ["default_notifiers"]]);
  }
  return items;
}
