"""batch/v1 kinds."""
from ..schema import A, B, I, O, OPEN, S, TIME
from .core import ObjectReference, PodTemplateSpec
from .meta import Condition, LabelSelector, ObjectMeta, toplevel

JobSpec = O("io.k8s.api.batch.v1.JobSpec", {
    "parallelism": I(), "completions": I(), "activeDeadlineSeconds": I(), "podFailurePolicy": OPEN(),
    "successPolicy": OPEN(), "backoffLimit": I(), "backoffLimitPerIndex": I(), "maxFailedIndexes": I(),
    "selector": LabelSelector, "manualSelector": B(), "template": PodTemplateSpec, "ttlSecondsAfterFinished": I(),
    "completionMode": S(), "suspend": B(), "podReplacementPolicy": S(), "managedBy": S(),
}, "JobSpec describes how the job execution will look like.", required=("template",))
Job = toplevel("io.k8s.api.batch.v1.Job", "Job represents the configuration of a single job.", spec=JobSpec,
               status=O("io.k8s.api.batch.v1.JobStatus", {
                   "conditions": A(Condition), "startTime": TIME(), "completionTime": TIME(), "active": I(),
                   "succeeded": I(), "failed": I(), "terminating": I(), "completedIndexes": S(), "failedIndexes": S(),
                   "uncountedTerminatedPods": OPEN(), "ready": I()}))
CronJob = toplevel("io.k8s.api.batch.v1.CronJob", "CronJob represents the configuration of a single cron job.",
                   spec=O("io.k8s.api.batch.v1.CronJobSpec", {
                       "schedule": S("The schedule in Cron format."), "timeZone": S(), "startingDeadlineSeconds": I(),
                       "concurrencyPolicy": S(), "suspend": B(),
                       "jobTemplate": O("io.k8s.api.batch.v1.JobTemplateSpec", {"metadata": ObjectMeta, "spec": JobSpec}),
                       "successfulJobsHistoryLimit": I(), "failedJobsHistoryLimit": I()}, required=("schedule", "jobTemplate")),
                   status=O("io.k8s.api.batch.v1.CronJobStatus", {
                       "active": A(ObjectReference), "lastScheduleTime": TIME(), "lastSuccessfulTime": TIME()}))
