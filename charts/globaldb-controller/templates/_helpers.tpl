{{/* The chart name, or nameOverride. */}}
{{- define "gdb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full object name: fullnameOverride, else the release name if it
contains the chart name, else "<release>-<chart>". */}}
{{- define "gdb.fullname" -}}
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

{{/* Labels on every object. */}}
{{- define "gdb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gdb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: globaldb-controller
{{- end -}}

{{/* The labels that select the controller's pods. */}}
{{- define "gdb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gdb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The ServiceAccount's name. */}}
{{- define "gdb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gdb.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* What the controller may do, verb by verb, in every namespace it watches.
Shared by the ClusterRole and the namespaced Role so the two never differ. No
wildcards: each rule names its API group, resources and verbs. */}}
{{- define "gdb.controllerRules" -}}
# The custom resource: watched by the informer; updated to add and remove the
# finalizer (metadata only: the controller never writes spec).
- apiGroups: ["globaldb.io"]
  resources: ["globaldatabases"]
  verbs: ["get", "list", "watch", "update", "patch"]
# Conditions, the write-ahead operation record and measurements.
- apiGroups: ["globaldb.io"]
  resources: ["globaldatabases/status"]
  verbs: ["get", "update", "patch"]
# Where the OwnerReferencesPermissionEnforcement admission plugin is on, an
# object may name a GlobalDatabase as its owner with blockOwnerDeletion only
# if its writer may update this subresource.
- apiGroups: ["globaldb.io"]
  resources: ["globaldatabases/finalizers"]
  verbs: ["update"]
# Events on GlobalDatabases (events.k8s.io/v1; patch to bump a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# Workload restarts after a failover: the restartedAt annotation on the pod
# template, as `kubectl rollout restart` sets it.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "patch"]
{{- end -}}

{{/* Probe credentials and CA bundles, got by name only (never listed or
watched). */}}
{{- define "gdb.secretReaderRules" -}}
- apiGroups: [""]
  resources: ["secrets", "configmaps"]
  verbs: ["get"]
{{- end -}}

{{/* Fails the render on values that cannot work together. */}}
{{- define "gdb.validate" -}}
{{- if and .Values.rbac.namespaced (not .Values.watchNamespace) -}}
{{- fail "rbac.namespaced=true needs watchNamespace: a Role grants access in one namespace, so the controller must watch only that one" -}}
{{- end -}}
{{- if .Values.rbac.namespaced -}}
{{- range .Values.rbac.secretReaderNamespaces -}}
{{- if ne . $.Values.watchNamespace -}}
{{- fail (printf "rbac.secretReaderNamespaces names %s, but with rbac.namespaced=true the controller sees GlobalDatabases in %s only, whose Secrets its Role there already covers: leave %s out" . $.Values.watchNamespace .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.rbac.namespaced .Values.metrics.auth -}}
{{- fail "metrics.auth needs cluster-wide rights (create TokenReviews and SubjectAccessReviews), which rbac.namespaced=true does not grant: rely on the NetworkPolicy instead" -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: two controllers acting at once is never safe" -}}
{{- end -}}
{{- end -}}
