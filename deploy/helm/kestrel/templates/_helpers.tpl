{{/* Names and labels. */}}
{{- define "kestrel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kestrel.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kestrel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kestrel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kestrel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: engine
{{- end -}}

{{- define "kestrel.labels" -}}
helm.sh/chart: {{ include "kestrel.chart" . }}
app.kubernetes.io/name: {{ include "kestrel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kestrel
{{- end -}}

{{- define "kestrel.serviceAccountName" -}}
{{- $sa := .Values.rbac.serviceAccount | default dict -}}
{{- if or $sa.create (not (hasKey $sa "create")) -}}
{{- default (include "kestrel.fullname" .) $sa.name -}}
{{- else -}}
{{- required "rbac.serviceAccount.name is required when rbac.serviceAccount.create is false" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* True ("true") when the values name Falco Talon's image: a values file copied from Talon's chart. */}}
{{- define "kestrel.talonImage" -}}
{{- $img := .Values.image | default dict -}}
{{- if regexMatch "(^|/)falco-talon$" (toString $img.repository) -}}true{{- end -}}
{{- end -}}

{{/* Kestrel's image. Talon's image (falcosecurity/falco-talon) is never deployed: its registry, repository
and tag are replaced by Kestrel's defaults, and NOTES.txt says so. */}}
{{- define "kestrel.image" -}}
{{- $img := .Values.image | default dict -}}
{{- $registry := $img.registry -}}
{{- $repository := $img.repository -}}
{{- $tag := toString (default .Chart.AppVersion $img.tag) -}}
{{- $digest := $img.digest -}}
{{- if include "kestrel.talonImage" . -}}
{{- $registry = "ghcr.io" -}}
{{- $repository = "falco-kestrel/kestrel" -}}
{{- $tag = .Chart.AppVersion -}}
{{- $digest = "" -}}
{{- end -}}
{{- $ref := ternary (printf "%s/%s" $registry $repository) $repository (not (empty $registry)) -}}
{{- if $digest -}}{{ printf "%s@%s" $ref $digest }}{{- else -}}{{ printf "%s:%s" $ref $tag }}{{- end -}}
{{- end -}}

{{/* "yes" when the value is something to write (not null, not "", not an empty list or map; false and 0 are). */}}
{{- define "kestrel.present" -}}
{{- $v := . -}}
{{- if kindIs "invalid" $v -}}
{{- else if and (kindIs "string" $v) (eq $v "") -}}
{{- else if and (or (kindIs "slice" $v) (kindIs "map" $v)) (eq (len $v) 0) -}}
{{- else -}}yes{{- end -}}
{{- end -}}

{{/* A values key in config.yaml's spelling: camelCase becomes snake_case (`webhookUrl` → `webhook_url`);
keys already in snake_case are kept (so both spellings work). */}}
{{- define "kestrel.key" -}}
{{- if regexMatch "[A-Z]" . -}}{{ snakecase . }}{{- else -}}{{ . }}{{- end -}}
{{- end -}}

{{/* A map with its keys in config.yaml's spelling and its empty values left out (one level: the values of
nested maps, such as header names, are kept as written). */}}
{{- define "kestrel.section" -}}
{{- $out := dict -}}
{{- range $k, $v := . -}}
{{- if include "kestrel.present" $v -}}
{{- $_ := set $out (include "kestrel.key" $k) $v -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* `customHeaders` written as Talon's chart writes them, a list of "Name: value", becomes the map Kestrel reads. */}}
{{- define "kestrel.headers" -}}
{{- $out := dict -}}
{{- if kindIs "map" . -}}
{{- $out = . -}}
{{- else -}}
{{- range . -}}
{{- $parts := regexSplit ":" (toString .) 2 -}}
{{- if ne (len $parts) 2 -}}{{- fail (printf "customHeaders: %q is not \"Name: value\"" (toString .)) -}}{{- end -}}
{{- $_ := set $out (trim (index $parts 0)) (trim (index $parts 1)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The settings that make each of Talon's chart notifiers usable: Talon's chart writes every notifier, even
empty ones; an empty one is left out here (Kestrel validates each notifier's settings). */}}
{{- define "kestrel.notifierKeys" -}}
slack: [webhook_url]
webhook: [url]
smtp: [host_port]
loki: [host_port, url]
elasticsearch: [url, host_port]
{{- end -}}

{{- define "kestrel.notifiers" -}}
{{- $out := dict -}}
{{- $needs := include "kestrel.notifierKeys" . | fromYaml -}}
{{- $defaults := .Values.config.defaultNotifiers | default list -}}
{{- range $name, $settings := (.Values.config.notifiers | default dict) -}}
{{- $s := dict -}}
{{- range $k, $v := ($settings | default dict) -}}
{{- if include "kestrel.present" $v -}}
{{- $key := include "kestrel.key" $k -}}
{{- if eq $key "custom_headers" -}}
{{- $v = include "kestrel.headers" $v | fromYaml -}}
{{- end -}}
{{- $_ := set $s $key $v -}}
{{- end -}}
{{- end -}}
{{- $keep := true -}}
{{- if and (hasKey $needs $name) (not (has $name $defaults)) -}}
{{- $keep = false -}}
{{- range (get $needs $name) -}}
{{- if hasKey $s . -}}{{- $keep = true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- if $keep -}}{{- $_ := set $out $name $s -}}{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{- define "kestrel.natsUrl" -}}
{{- $c := .Values.cluster | default dict -}}
{{- $nats := $c.nats | default dict -}}
{{- if $c.natsUrl -}}
{{- $c.natsUrl -}}
{{- else if $nats.deploy -}}
{{- printf "nats://%s-nats.%s.svc:4222" (include "kestrel.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* Where the Secrets and ConfigMaps are mounted. */}}
{{- define "kestrel.configPath" -}}/etc/kestrel/config.yaml{{- end -}}
{{- define "kestrel.rulesDir" -}}/etc/kestrel/rules{{- end -}}
{{- define "kestrel.tlsDir" -}}/etc/kestrel/tls{{- end -}}
{{- define "kestrel.clientCaDir" -}}/etc/kestrel/client-ca{{- end -}}
{{- define "kestrel.tokensDir" -}}/etc/kestrel/tokens{{- end -}}

{{- define "kestrel.authSecret" -}}
{{- $a := .Values.auth | default dict -}}
{{- if $a.existingSecret -}}{{ $a.existingSecret }}{{- else if $a.tokens -}}{{ include "kestrel.fullname" . }}-auth{{- end -}}
{{- end -}}

{{/* config.yaml, from `config.*` (Talon's keys, camelCase; Kestrel's own config keys are accepted in either
spelling) and Kestrel's top-level additions (cluster, auth, tls). */}}
{{- define "kestrel.config" -}}
{{- $c := .Values.config | default dict -}}
{{- $out := dict -}}
{{- range $k, $v := $c -}}
{{- if and (not (has $k (list "rulesOverride" "notifiers" "aws"))) (include "kestrel.present" $v) -}}
{{- if kindIs "map" $v -}}
{{- $_ := set $out (include "kestrel.key" $k) (include "kestrel.section" $v | fromYaml) -}}
{{- else -}}
{{- $_ := set $out (include "kestrel.key" $k) $v -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $aws := $c.aws | default dict -}}
{{- $awsOut := include "kestrel.section" (omit $aws "accesKey" "accessKey") | fromYaml -}}
{{- /* Talon's values.yaml spells it accesKey, and its template read accessKey: both are read here. */ -}}
{{- $accessKey := default $aws.accesKey $aws.accessKey -}}
{{- if $accessKey -}}{{- $_ := set $awsOut "access_key" $accessKey -}}{{- end -}}
{{- if $awsOut -}}{{- $_ := set $out "aws" $awsOut -}}{{- end -}}
{{- $notifiers := include "kestrel.notifiers" . | fromYaml -}}
{{- if $notifiers -}}{{- $_ := set $out "notifiers" $notifiers -}}{{- end -}}
{{- $cluster := include "kestrel.section" (omit (.Values.cluster | default dict) "nats" "natsUrl") | fromYaml -}}
{{- $natsUrl := include "kestrel.natsUrl" . -}}
{{- if $natsUrl -}}{{- $_ := set $cluster "nats_url" $natsUrl -}}{{- end -}}
{{- if $cluster -}}{{- $_ := set $out "cluster" (mergeOverwrite (get $out "cluster" | default dict) $cluster) -}}{{- end -}}
{{- if include "kestrel.authSecret" . -}}
{{- $_ := set $out "auth" (mergeOverwrite (get $out "auth" | default dict) (dict "tokens_file" (printf "%s/%s" (include "kestrel.tokensDir" .) (default "tokens" .Values.auth.existingSecretKey)))) -}}
{{- end -}}
{{- $tls := .Values.tls | default dict -}}
{{- if $tls.existingSecret -}}
{{- $t := dict "cert_file" (printf "%s/tls.crt" (include "kestrel.tlsDir" .)) "key_file" (printf "%s/tls.key" (include "kestrel.tlsDir" .)) -}}
{{- if $tls.clientCaSecret -}}
{{- $_ := set $t "client_ca_file" (printf "%s/%s" (include "kestrel.clientCaDir" .) (default "ca.crt" $tls.clientCaKey)) -}}
{{- end -}}
{{- $_ := set $out "tls" (mergeOverwrite (get $out "tls" | default dict) $t) -}}
{{- else if $tls.clientCaSecret -}}
{{- fail "tls.clientCaSecret (mutual TLS) needs tls.existingSecret (the server's certificate)" -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The rules files, in the order Kestrel merges them: rules.yaml (`rules`, else the chart's rules.yaml, with
`config.rulesOverride` appended), then Talon's `customRules` by name, then `rulesFiles` in order. */}}
{{- define "kestrel.rulesFiles" -}}
{{- $main := .Values.rules | default (.Files.Get "rules.yaml") -}}
{{- $override := .Values.config.rulesOverride | default "" -}}
{{- if $override -}}
{{- $main = printf "%s\n# config.rulesOverride\n%s" (trimSuffix "\n" $main) $override -}}
{{- end -}}
{{- $files := list (dict "name" "rules.yaml" "content" $main) -}}
{{- $custom := .Values.customRules | default dict -}}
{{- range $name := keys $custom | sortAlpha -}}
{{- $files = append $files (dict "name" $name "content" (get $custom $name)) -}}
{{- end -}}
{{- range $i, $f := (.Values.rulesFiles | default list) -}}
{{- if not (and $f.name $f.content) -}}{{- fail (printf "rulesFiles[%d] needs a name and a content" $i) -}}{{- end -}}
{{- $files = append $files (dict "name" $f.name "content" $f.content) -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $files -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" .name) -}}{{- fail (printf "rules file name %q: letters, digits, '-', '_' and '.' only (it is a ConfigMap key)" .name) -}}{{- end -}}
{{- if hasKey $seen .name -}}{{- fail (printf "rules file %q is given twice" .name) -}}{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{/* What the rules use: actionners, additional contexts and notifiers (from the rules and default_notifiers). */}}
{{- define "kestrel.rulesUse" -}}
{{- $blocks := dict -}}
{{- $rules := list -}}
{{- range $f := (include "kestrel.rulesFiles" . | fromYamlArray) -}}
{{- $items := fromYamlArray $f.content -}}
{{- range $i, $item := $items -}}
{{- if not (kindIs "map" $item) -}}
{{- fail (printf "rules file %s: item %d is not a mapping with 'rule:' or 'action:' (%v)" $f.name $i $item) -}}
{{- end -}}
{{- if hasKey $item "action" -}}
{{- $b := get $blocks (toString $item.action) | default (dict "actionners" list "contexts" list) -}}
{{- if $item.actionner -}}{{- $_ := set $b "actionners" (append $b.actionners $item.actionner) -}}{{- end -}}
{{- $_ := set $b "contexts" (concat $b.contexts ($item.additional_contexts | default list)) -}}
{{- $_ := set $blocks (toString $item.action) $b -}}
{{- else if hasKey $item "rule" -}}
{{- $rules = append $rules $item -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $actionners := list -}}
{{- $contexts := list -}}
{{- $notifiers := .Values.config.defaultNotifiers | default list -}}
{{- range $rule := $rules -}}
{{- $notifiers = concat $notifiers ($rule.notifiers | default list) -}}
{{- range $a := ($rule.actions | default list) -}}
{{- $b := get $blocks (toString $a.action) | default (dict "actionners" list "contexts" list) -}}
{{- if $a.actionner -}}
{{- $actionners = append $actionners $a.actionner -}}
{{- else -}}
{{- $actionners = concat $actionners $b.actionners -}}
{{- end -}}
{{- $contexts = concat $contexts $b.contexts ($a.additional_contexts | default list) -}}
{{- end -}}
{{- end -}}
actionners: {{ $actionners | uniq | sortAlpha | toJson }}
contexts: {{ $contexts | uniq | sortAlpha | toJson }}
notifiers: {{ $notifiers | uniq | sortAlpha | toJson }}
{{- end -}}

{{/* The ClusterRole's rules, from the plugins' permission lines (files/permissions.yaml, generated from the
plugin registries): those of the plugins the rules use (rbac.permissions: rules), or of every plugin (all). */}}
{{- define "kestrel.neededRules" -}}
{{- $perms := .Files.Get "files/permissions.yaml" | fromYaml -}}
{{- $use := include "kestrel.rulesUse" . | fromYaml -}}
{{- $lines := list -}}
{{- if eq (toString .Values.rbac.permissions) "all" -}}
{{- range $kind := list "actionners" "notifiers" "contexts" "outputs" -}}
{{- range $id, $rules := (get $perms $kind) -}}{{- $lines = concat $lines $rules -}}{{- end -}}
{{- end -}}
{{- else -}}
{{- range $kind := list "actionners" "notifiers" "contexts" -}}
{{- $known := get $perms $kind -}}
{{- range $id := (get $use $kind) -}}
{{- if not (hasKey $known $id) -}}
{{- if eq $kind "notifiers" -}}{{- continue -}}{{- end -}}
{{- fail (printf "the rules use the %s %q, which Kestrel does not have (known: %s)" (trimSuffix "s" $kind) $id (keys $known | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $lines = concat $lines (get $known $id) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* Merge the verbs per group, resource and resource names (a line limited to names, such as Calico's
default tier, stays limited to them). */ -}}
{{- $merged := dict -}}
{{- range $lines -}}
{{- $key := printf "%s|%s|%s" .apiGroup .resource (join "," (.resourceNames | default list)) -}}
{{- $_ := set $merged $key (concat (get $merged $key | default list) .verbs | uniq | sortAlpha) -}}
{{- end -}}
{{- $out := list -}}
{{- range $key := keys $merged | sortAlpha -}}
{{- $parts := splitList "|" $key -}}
{{- $rule := dict "apiGroups" (list (index $parts 0)) "resources" (list (index $parts 1)) "verbs" (get $merged $key) -}}
{{- if ne (index $parts 2) "" -}}{{- $_ := set $rule "resourceNames" (splitList "," (index $parts 2)) -}}{{- end -}}
{{- $out = append $out $rule -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Talon's per-resource verb lists (rbac.pods, rbac.nodes, …): group and resource of each. */}}
{{- define "kestrel.talonRbac" -}}
namespaces: [{group: "", resource: namespaces}]
pods: [{group: "", resource: pods}]
podsEphemeralcontainers: [{group: "", resource: pods/ephemeralcontainers}]
nodes: [{group: "", resource: nodes}]
podsLog: [{group: "", resource: pods/log}]
podsExec: [{group: "", resource: pods/exec}]
podsEviction: [{group: "", resource: pods/eviction}]
events: [{group: "", resource: events}]
daemonsets: [{group: apps, resource: daemonsets}]
deployments: [{group: apps, resource: deployments}]
replicasets: [{group: apps, resource: replicasets}]
statefulsets: [{group: apps, resource: statefulsets}]
networkpolicies: [{group: networking.k8s.io, resource: networkpolicies}]
# Talon's chart granted projectcalico.org/caliconetworkpolicies, a resource that does not exist: Calico's
# policies are `networkpolicies`, in projectcalico.org/v3 (API server) and crd.projectcalico.org/v1.
caliconetworkpolicies: [{group: projectcalico.org, resource: networkpolicies}, {group: crd.projectcalico.org, resource: networkpolicies}]
ciliumnetworkpolicies: [{group: cilium.io, resource: ciliumnetworkpolicies}]
roles: [{group: rbac.authorization.k8s.io, resource: roles}]
clusterroles: [{group: rbac.authorization.k8s.io, resource: clusterroles}]
configmaps: [{group: "", resource: configmaps}]
secrets: [{group: "", resource: secrets}]
leases: [{group: coordination.k8s.io, resource: leases}]
{{- end -}}

{{/* "yes" when the values set any of Talon's per-resource verb lists. */}}
{{- define "kestrel.talonRbacSet" -}}
{{- $talon := include "kestrel.talonRbac" . | fromYaml -}}
{{- range $key, $_ := $talon -}}{{- if hasKey $.Values.rbac $key -}}yes{{- end -}}{{- end -}}
{{- end -}}

{{- define "kestrel.talonRules" -}}
{{- $talon := include "kestrel.talonRbac" . | fromYaml -}}
{{- $out := list -}}
{{- range $key := keys $talon | sortAlpha -}}
{{- $verbs := get $.Values.rbac $key -}}
{{- if $verbs -}}
{{- range (get $talon $key) -}}
{{- $out = append $out (dict "apiGroups" (list .group) "resources" (list .resource) "verbs" $verbs) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The rules the ClusterRole holds: Talon's verb lists when the values set them (as Talon's chart does),
else the permissions the rules need; then rbac.extraRules. */}}
{{- define "kestrel.clusterRoleRules" -}}
{{- $rules := list -}}
{{- if include "kestrel.talonRbacSet" . -}}
{{- $rules = include "kestrel.talonRules" . | fromYamlArray -}}
{{- else -}}
{{- $rules = include "kestrel.neededRules" . | fromYamlArray -}}
{{- end -}}
{{- $rules = concat $rules (.Values.rbac.extraRules | default list) -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* Needed permissions that Talon-style lists leave out, one "group/resource: verb" per line (for NOTES.txt). */}}
{{- define "kestrel.missingPermissions" -}}
{{- if include "kestrel.talonRbacSet" . -}}
{{- $granted := dict -}}
{{- range (include "kestrel.clusterRoleRules" . | fromYamlArray) -}}
{{- $r := . -}}
{{- range $g := $r.apiGroups -}}{{- range $res := $r.resources -}}{{- range $v := $r.verbs -}}
{{- $_ := set $granted (printf "%s/%s: %s" $g $res $v) true -}}
{{- end -}}{{- end -}}{{- end -}}
{{- end -}}
{{- range (include "kestrel.neededRules" . | fromYamlArray) -}}
{{- $r := . -}}
{{- range $v := $r.verbs -}}
{{- $line := printf "%s/%s: %s" (index $r.apiGroups 0) (index $r.resources 0) $v -}}
{{- if not (hasKey $granted $line) }}
{{ $line }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
