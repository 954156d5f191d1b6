// Cloud Functions names and Google Cloud regions: they become path segments of API URLs, so both the
// gcp:function parameters and the client check them (kept apart from the client, which loads the SDKs).
export const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
export const FUNCTION_LOCATION = /^[a-z][a-z0-9-]{1,62}$/;
