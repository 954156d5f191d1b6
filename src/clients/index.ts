// The clients plugins use to reach external systems. They come in through the plugin context, never
// through module globals, so a test can hand in clients pointed at test servers. Clients for a category
// (kubernetes, aws, gcp) are created only when a loaded rule or notifier needs them.
import { type HttpClient, httpRequest } from "./http.ts";

export interface Clients {
  readonly http: HttpClient;
}

export function createClients(overrides: Partial<Clients> = {}): Clients {
  return { http: overrides.http ?? httpRequest };
}
