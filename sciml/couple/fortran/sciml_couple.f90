! Fortran binding of the sciml C shim (sciml_couple.h): load an exported closure, call it, free it.
!
!   use sciml_couple
!   type(sciml_model) :: model
!   call sciml_load_model(model, "closure.pt", status, message)
!   call sciml_run_model(model, x, tendency, status, message)   ! x(K, batch): the exported (batch, K)
!   call sciml_free_model(model)
!
! status is SCIML_OK (0) or an error code with a message; nothing stops the host. Arrays are real(c_double)
! or real(c_float) of rank 1 or 2, matching the dtype the closure was exported with; their dimensions are
! the exported shape reversed (Fortran is column-major: x(K, batch) has the memory of a C (batch, K) array).
module sciml_couple
  use, intrinsic :: iso_c_binding
  implicit none
  private
  public :: sciml_model, sciml_load_model, sciml_run_model, sciml_free_model

  integer, parameter, public :: SCIML_OK = 0, SCIML_ERR_LOAD = 1, SCIML_ERR_INPUT = 2, SCIML_ERR_RUN = 3
  integer(c_int), parameter :: FLOAT32 = 0, FLOAT64 = 1
  integer, parameter :: MESSAGE_LEN = 512

  type :: sciml_model
    type(c_ptr) :: handle = c_null_ptr
  end type sciml_model

  interface
    integer(c_int) function c_sciml_load(path, model, message, message_len) bind(C, name="sciml_load")
      import :: c_char, c_ptr, c_int
      character(kind=c_char), intent(in) :: path(*)
      type(c_ptr), intent(out) :: model
      character(kind=c_char), intent(out) :: message(*)
      integer(c_int), value :: message_len
    end function c_sciml_load

    integer(c_int) function c_sciml_run(model, state, shape, ndim, dtype, tendency, message, message_len) &
        bind(C, name="sciml_run")
      import :: c_char, c_ptr, c_int, c_int64_t
      type(c_ptr), value :: model, state, tendency
      integer(c_int64_t), intent(in) :: shape(*)
      integer(c_int), value :: ndim, dtype
      character(kind=c_char), intent(out) :: message(*)
      integer(c_int), value :: message_len
    end function c_sciml_run

    subroutine c_sciml_free(model) bind(C, name="sciml_free")
      import :: c_ptr
      type(c_ptr), value :: model
    end subroutine c_sciml_free
  end interface

  interface sciml_run_model
    module procedure run_rank1_f64, run_rank2_f64, run_rank1_f32, run_rank2_f32
  end interface sciml_run_model

contains

  subroutine sciml_load_model(model, path, status, message)
    type(sciml_model), intent(inout) :: model
    character(len=*), intent(in) :: path
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    character(kind=c_char) :: buffer(MESSAGE_LEN)
    buffer = c_null_char
    status = c_sciml_load(trim(path)//c_null_char, model%handle, buffer, int(MESSAGE_LEN, c_int))
    message = from_c(buffer)
  end subroutine sciml_load_model

  subroutine sciml_free_model(model)
    type(sciml_model), intent(inout) :: model
    call c_sciml_free(model%handle)
    model%handle = c_null_ptr
  end subroutine sciml_free_model

  ! Fortran shape (n1, n2, ...) to C order (..., n2, n1)
  subroutine call_shim(model, state, tendency, fortran_shape, dtype, status, message)
    type(sciml_model), intent(in) :: model
    type(c_ptr), intent(in) :: state, tendency
    integer, intent(in) :: fortran_shape(:)
    integer(c_int), intent(in) :: dtype
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    character(kind=c_char) :: buffer(MESSAGE_LEN)
    integer(c_int64_t) :: c_shape(size(fortran_shape))
    integer :: i
    do i = 1, size(fortran_shape)
      c_shape(i) = int(fortran_shape(size(fortran_shape) + 1 - i), c_int64_t)
    end do
    buffer = c_null_char
    status = c_sciml_run(model%handle, state, c_shape, int(size(fortran_shape), c_int), dtype, tendency, buffer, &
                         int(MESSAGE_LEN, c_int))
    message = from_c(buffer)
  end subroutine call_shim

  logical function same_shape(a, b, status, message)
    integer, intent(in) :: a(:), b(:)
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    same_shape = all(a == b)
    status = SCIML_OK
    message = ""
    if (.not. same_shape) then
      status = SCIML_ERR_INPUT
      message = "sciml_run_model: state and tendency must have the same shape"
    end if
  end function same_shape

  subroutine run_rank1_f64(model, state, tendency, status, message)
    type(sciml_model), intent(in) :: model
    real(c_double), intent(in), target, contiguous :: state(:)
    real(c_double), intent(out), target, contiguous :: tendency(:)
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    if (same_shape(shape(state), shape(tendency), status, message)) &
      call call_shim(model, c_loc(state), c_loc(tendency), shape(state), FLOAT64, status, message)
  end subroutine run_rank1_f64

  subroutine run_rank2_f64(model, state, tendency, status, message)
    type(sciml_model), intent(in) :: model
    real(c_double), intent(in), target, contiguous :: state(:, :)
    real(c_double), intent(out), target, contiguous :: tendency(:, :)
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    if (same_shape(shape(state), shape(tendency), status, message)) &
      call call_shim(model, c_loc(state), c_loc(tendency), shape(state), FLOAT64, status, message)
  end subroutine run_rank2_f64

  subroutine run_rank1_f32(model, state, tendency, status, message)
    type(sciml_model), intent(in) :: model
    real(c_float), intent(in), target, contiguous :: state(:)
    real(c_float), intent(out), target, contiguous :: tendency(:)
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    if (same_shape(shape(state), shape(tendency), status, message)) &
      call call_shim(model, c_loc(state), c_loc(tendency), shape(state), FLOAT32, status, message)
  end subroutine run_rank1_f32

  subroutine run_rank2_f32(model, state, tendency, status, message)
    type(sciml_model), intent(in) :: model
    real(c_float), intent(in), target, contiguous :: state(:, :)
    real(c_float), intent(out), target, contiguous :: tendency(:, :)
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    if (same_shape(shape(state), shape(tendency), status, message)) &
      call call_shim(model, c_loc(state), c_loc(tendency), shape(state), FLOAT32, status, message)
  end subroutine run_rank2_f32

  function from_c(buffer) result(text)
    character(kind=c_char), intent(in) :: buffer(:)
    character(len=size(buffer)) :: text
    integer :: i
    text = ""
    do i = 1, size(buffer)
      if (buffer(i) == c_null_char) exit
      text(i:i) = buffer(i)
    end do
  end function from_c

end module sciml_couple
