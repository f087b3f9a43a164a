/*
 * kube.h - the Kubernetes API machinery, in one include.
 *
 * pkg/kube is what a controller needs from client-go and controller-runtime,
 * as a thin layer on libcurl, jansson and libyaml; it knows nothing about
 * databases. config.h finds the apiserver and the credentials (kubeconfig or
 * in-cluster); rest.h issues verbs on any resource and decodes Status errors
 * (status.h) into base error codes; watch.h frames and decodes watch streams;
 * reflector.h keeps a store.h cache in sync by list-then-watch, relisting on
 * 410 without losing or duplicating handler events; workqueue.h is the
 * rate-limited, delaying, de-duplicating queue that feeds reconcilers;
 * leader.h elects one active replica on a Lease; events.h records
 * events.k8s.io/v1 Events with aggregation and a spam limit without blocking;
 * conditions.h maintains status.conditions with metav1 semantics. Objects are
 * jansson values throughout: borrowed in, new references out. Each header
 * states its thread-safety; all long-running parts (reflector, elector,
 * recorder) own one thread each and stop when freed.
 */
#ifndef KUBE_KUBE_H
#define KUBE_KUBE_H

#include "pkg/kube/conditions.h"
#include "pkg/kube/config.h"
#include "pkg/kube/events.h"
#include "pkg/kube/leader.h"
#include "pkg/kube/reflector.h"
#include "pkg/kube/rest.h"
#include "pkg/kube/status.h"
#include "pkg/kube/store.h"
#include "pkg/kube/watch.h"
#include "pkg/kube/workqueue.h"
#include "pkg/kube/yaml.h"

#endif
