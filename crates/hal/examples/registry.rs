//! Prints what this build of the runtime can do, one `kind name` line each; the feature test
//! builds it with several feature sets and reads the output.

fn main() {
    for driver in hal::registered_driver_names() {
        println!("driver {driver}");
    }
    for loader in hal::registered_loader_names() {
        println!("loader {loader}");
    }
    for format in hal::registered_formats() {
        println!("format {format}");
    }
}
