{{/*
Shared helpers. Most take a context dict:
  root       the chart's top-level context ($)
  component  gateway | speech | concierge | directory | dialer
  svc        that component's values block
*/}}

{{- define "porteiro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "porteiro.fullname" -}}
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

{{/* Name of one component's resources: <fullname>-<component>. Context: root, component. */}}
{{- define "porteiro.componentName" -}}
{{- printf "%s-%s" (include "porteiro.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. Context: the root ($). */}}
{{- define "porteiro.chartLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "porteiro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: porteiro
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component. Context: root, component. */}}
{{- define "porteiro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "porteiro.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of one component's resources. Context: root, component. */}}
{{- define "porteiro.labels" -}}
{{ include "porteiro.chartLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "porteiro.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "porteiro.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image reference of one component. Context: root, svc. */}}
{{- define "porteiro.image" -}}
{{- $repository := .svc.image.repository | default (printf "%s/%s" .root.Values.image.prefix .svc.image.name) -}}
{{- $tag := .svc.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/* host:port (or dns:///fqdn:port with headlessServices) of a component's gRPC port.
     Context: root, component. */}}
{{- define "porteiro.grpcTarget" -}}
{{- $svc := index .root.Values .component -}}
{{- $name := include "porteiro.componentName" . -}}
{{- if .root.Values.headlessServices -}}
{{- printf "dns:///%s.%s.svc.%s:%v" $name .root.Release.Namespace .root.Values.clusterDomain $svc.grpcPort -}}
{{- else -}}
{{- printf "%s:%v" $name $svc.grpcPort -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret the chart creates from inline credential values. */}}
{{- define "porteiro.credentialsSecretName" -}}
{{- printf "%s-credentials" (include "porteiro.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* An env entry read from a Secret: the existing one when named, else the chart's.
     Context: root, env (variable name), existingSecret, existingSecretKey, generatedKey. */}}
{{- define "porteiro.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      {{- if .existingSecret }}
      name: {{ .existingSecret }}
      key: {{ .existingSecretKey }}
      {{- else }}
      name: {{ include "porteiro.credentialsSecretName" .root }}
      key: {{ .generatedKey }}
      {{- end }}
{{- end -}}

{{/* Directory data and prompts: the values' content, else the chart's sample file. */}}
{{- define "porteiro.directoryData" -}}
{{- .Values.directory.data | default (.Files.Get "files/apartamentos.json") -}}
{{- end -}}

{{- define "porteiro.promptsContent" -}}
{{- .Values.prompts.content | default (.Files.Get "files/prompts.pt-BR.yaml") -}}
{{- end -}}

{{- define "porteiro.promptsConfigMapName" -}}
{{- .Values.prompts.existingConfigMap | default (printf "%s-prompts" (include "porteiro.fullname" .)) -}}
{{- end -}}

{{- define "porteiro.directoryConfigMapName" -}}
{{- .Values.directory.existingConfigMap | default (printf "%s-directory-data" (include "porteiro.fullname" .)) -}}
{{- end -}}

{{/* Pod annotation that rolls the pods when the prompts change (an existing ConfigMap
     is yours to roll: only its name is recorded). Context: root. */}}
{{- define "porteiro.promptsChecksum" -}}
{{- if .root.Values.prompts.existingConfigMap -}}
porteiro.io/prompts-configmap: {{ .root.Values.prompts.existingConfigMap | quote }}
{{- else -}}
checksum/prompts: {{ include "porteiro.promptsContent" .root | sha256sum }}
{{- end -}}
{{- end -}}

{{/* Pod annotation that rolls the pods when the chart-created credentials Secret changes
     (its rendered manifest, hashed; a Secret named by existingSecret is yours to roll).
     Context: root. */}}
{{- define "porteiro.credentialsChecksum" -}}
checksum/credentials: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- end -}}

{{/* Env of every container: pod identity, HOME on the writable /tmp, logging, tracing.
     Context: root, component. */}}
{{- define "porteiro.commonEnv" -}}
{{- $v := .root.Values -}}
{{- $serviceName := .component -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: HOME
  value: /tmp
- name: PORTEIRO_LOG_LEVEL
  value: {{ $v.logging.level | quote }}
- name: PORTEIRO_LOG_FORMAT
  value: {{ $v.logging.format | quote }}
- name: PORTEIRO_TRACE_PERSONAL_DATA
  value: {{ $v.logging.personalData | toString | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "%s%s" $v.otel.serviceNamePrefix $serviceName | quote }}
{{- $attributes := list "service.namespace=porteiro" "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.pod.name=$(POD_NAME)" (printf "k8s.deployment.name=%s" (include "porteiro.componentName" .)) }}
{{- range $key, $value := $v.otel.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%v" $key $value) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- if $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_INSECURE
  value: {{ $v.otel.insecure | toString | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.otel.protocol | quote }}
{{- end }}
{{- end -}}

{{/* PORTEIRO_<SVC>_ ports and shutdown timings. Context: prefix (e.g. PORTEIRO_SPEECH_), svc. */}}
{{- define "porteiro.serverEnv" -}}
- name: {{ .prefix }}GRPC_PORT
  value: {{ .svc.grpcPort | quote }}
- name: {{ .prefix }}METRICS_PORT
  value: {{ .svc.metricsPort | quote }}
- name: {{ .prefix }}GRACE_PERIOD_SECONDS
  value: {{ .svc.gracePeriodSeconds | quote }}
- name: {{ .prefix }}SHUTDOWN_DELAY_SECONDS
  value: {{ .svc.shutdownDelaySeconds | quote }}
{{- end -}}

{{/* Native gRPC probes on the health service. Context: root, svc, startupFailureThreshold (optional). */}}
{{- define "porteiro.probes" -}}
{{- $p := .root.Values.probes -}}
startupProbe:
  grpc:
    port: {{ .svc.grpcPort }}
    {{- with $p.livenessService }}
    service: {{ . | quote }}
    {{- end }}
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ .startupFailureThreshold | default $p.startup.failureThreshold }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
readinessProbe:
  grpc:
    port: {{ .svc.grpcPort }}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
livenessProbe:
  grpc:
    port: {{ .svc.grpcPort }}
    {{- with $p.livenessService }}
    service: {{ . | quote }}
    {{- end }}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
{{- end -}}

{{/* A preStop hook sleeping .preStopSleepSeconds (none when 0): the pod keeps serving while
   the endpoints and load balancers stop sending it work, then gets SIGTERM. Context: svc. */}}
{{- define "porteiro.preStop" -}}
{{- if gt (int .preStopSleepSeconds) 0 }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "{{ int .preStopSleepSeconds }}"]
{{- end }}
{{- end -}}

{{/* Container ports every service has. Context: svc. */}}
{{- define "porteiro.serverPorts" -}}
- name: grpc
  containerPort: {{ .svc.grpcPort }}
  protocol: TCP
- name: metrics
  containerPort: {{ .svc.metricsPort }}
  protocol: TCP
{{- end -}}

{{/* Pod-level fields every workload shares. Context: root, svc. */}}
{{- define "porteiro.podSpec" -}}
serviceAccountName: {{ include "porteiro.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .svc.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .svc.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml .svc.topologySpreadConstraints | nindent 2 }}
{{- else if .root.Values.topologySpread.enabled }}
{{- $spread := .root.Values.topologySpread }}
# Replicas of this service (this release: the selector has the instance label) spread out.
topologySpreadConstraints:
  {{- range $spread.topologyKeys }}
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "porteiro.selectorLabels" $ | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
  {{- end }}
{{- end }}
{{- end -}}

{{/* Pod template labels: the selector labels plus the service's podLabels. Context: root, component, svc. */}}
{{- define "porteiro.podLabels" -}}
{{ include "porteiro.selectorLabels" . }}
app.kubernetes.io/part-of: porteiro
{{- with .svc.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The writable /tmp every container gets (read-only root filesystem). */}}
{{- define "porteiro.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpSizeLimit }}
{{- end -}}

{{- define "porteiro.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* ClusterIP Service for gRPC and metrics. Context: root, component, svc. */}}
{{- define "porteiro.grpcService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "porteiro.componentName" . }}
  labels:
    {{- include "porteiro.labels" . | nindent 4 }}
    porteiro.io/metrics: "true"
spec:
  type: ClusterIP
  {{- if and .root.Values.headlessServices (ne .component "gateway") }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "porteiro.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .svc.grpcPort }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    - name: metrics
      port: {{ .svc.metricsPort }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
{{- end -}}

{{/* NetworkPolicy: gRPC from the callers' pods, metrics from monitoring, plus extra rules.
     Context: root, component, callers (list of components), extraIngress (YAML list, optional). */}}
{{- define "porteiro.networkPolicy" -}}
{{- if .root.Values.networkPolicy.enabled }}
{{- $root := .root }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "porteiro.componentName" . }}
  labels:
    {{- include "porteiro.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "porteiro.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    {{- if .callers }}
    - from:
        {{- range .callers }}
        - podSelector:
            matchLabels:
              {{- include "porteiro.selectorLabels" (dict "root" $root "component" .) | nindent 14 }}
        {{- end }}
      ports:
        - port: grpc
          protocol: TCP
    {{- end }}
    - from:
        - namespaceSelector:
            {{- toYaml $root.Values.networkPolicy.metrics.namespaceSelector | nindent 12 }}
          {{- with $root.Values.networkPolicy.metrics.podSelector }}
          podSelector:
            {{- toYaml . | nindent 12 }}
          {{- end }}
        {{- with $root.Values.networkPolicy.metrics.extraFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - port: metrics
          protocol: TCP
    {{- with .extraIngress }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* HorizontalPodAutoscaler when the component's autoscaling is enabled. Context: root, component, svc. */}}
{{- define "porteiro.hpa" -}}
{{- $a := .svc.autoscaling -}}
{{- if $a.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "porteiro.componentName" . }}
  labels:
    {{- include "porteiro.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "porteiro.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $a.queueDepth }}
    {{- if .enabled }}
    # Requests waiting for a worker, per pod, served by a custom-metrics adapter (deploy/README.md).
    - type: Pods
      pods:
        metric:
          name: {{ .metricName }}
          selector:
            matchLabels:
              kind: {{ .kind }}
        target:
          type: AverageValue
          averageValue: {{ .averageValue | quote }}
    {{- end }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* PodDisruptionBudget. Context: root, component, svc. */}}
{{- define "porteiro.pdb" -}}
{{- if .svc.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "porteiro.componentName" . }}
  labels:
    {{- include "porteiro.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .svc.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "porteiro.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* Prometheus Operator ServiceMonitor, only when enabled and the CRD is served. Context: root, component. */}}
{{- define "porteiro.serviceMonitor" -}}
{{- $sm := .root.Values.serviceMonitor -}}
{{- if and $sm.enabled (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "porteiro.componentName" . }}
  labels:
    {{- include "porteiro.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "porteiro.selectorLabels" . | nindent 6 }}
      porteiro.io/metrics: "true"
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end }}
{{- end -}}

{{/* Everything after the Deployment and its Service: HPA, PDB, NetworkPolicy, ServiceMonitor. */}}
{{- define "porteiro.componentExtras" -}}
{{ include "porteiro.hpa" . }}
{{ include "porteiro.pdb" . }}
{{ include "porteiro.networkPolicy" . }}
{{ include "porteiro.serviceMonitor" . }}
{{- end -}}

{{/* <prefix>REDIS_URL from the redis values, the password (if any) from a Secret through
     $(REDIS_PASSWORD), so it never appears in the manifest. Context: root, env (variable name). */}}
{{- define "porteiro.redisEnv" -}}
{{- $redis := .root.Values.redis -}}
{{- $scheme := ternary "rediss" "redis" $redis.tls -}}
{{- if or $redis.auth.existingSecret $redis.auth.password }}
{{ include "porteiro.secretEnv" (dict "root" .root "env" "REDIS_PASSWORD" "existingSecret" $redis.auth.existingSecret "existingSecretKey" $redis.auth.existingSecretPasswordKey "generatedKey" "redis-password") }}
- name: {{ .env }}
  value: {{ printf "%s://:$(REDIS_PASSWORD)@%s:%v/%v" $scheme $redis.host $redis.port $redis.db | quote }}
{{- else }}
- name: {{ .env }}
  value: {{ printf "%s://%s:%v/%v" $scheme $redis.host $redis.port $redis.db | quote }}
{{- end }}
{{- end -}}

{{/* <env> = the AMQP URL from the rabbitmq values, the credentials (if any) from a Secret through
     $(AMQP_USERNAME)/$(AMQP_PASSWORD), so they never appear in the manifest. Nothing when
     rabbitmq.host is empty (the service's local default). Context: root, env (variable name). */}}
{{- define "porteiro.amqpEnv" -}}
{{- $mq := .root.Values.rabbitmq -}}
{{- if $mq.host }}
{{- $scheme := ternary "amqps" "amqp" $mq.tls }}
{{- $address := printf "%s:%v/%s" $mq.host $mq.port ($mq.vhost | urlquery) }}
{{- if or $mq.auth.existingSecret $mq.auth.password }}
{{ include "porteiro.secretEnv" (dict "root" .root "env" "AMQP_USERNAME" "existingSecret" $mq.auth.existingSecret "existingSecretKey" $mq.auth.existingSecretUsernameKey "generatedKey" "rabbitmq-username") }}
{{ include "porteiro.secretEnv" (dict "root" .root "env" "AMQP_PASSWORD" "existingSecret" $mq.auth.existingSecret "existingSecretKey" $mq.auth.existingSecretPasswordKey "generatedKey" "rabbitmq-password") }}
- name: {{ .env }}
  value: {{ printf "%s://$(AMQP_USERNAME):$(AMQP_PASSWORD)@%s" $scheme $address | quote }}
{{- else }}
- name: {{ .env }}
  value: {{ printf "%s://%s" $scheme $address | quote }}
{{- end }}
{{- end }}
{{- end -}}
